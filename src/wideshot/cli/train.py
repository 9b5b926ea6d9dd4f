"""``wideshot train``: train a network on a simulated data set into a run folder."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

HELP = """Train a network that reads (quaternion, radius) from one diffraction image, or, with
--shapes, one that names the shape family and reads each family's size, orientation and shape
parameter (class logits plus a block of targets per family; loss: cross-entropy weighted by
--classification-weight plus the squared error of the true family's block).

Each training batch is augmented on the fly on the training device (--augment, a filter of
wideshot.data.augment; a generator seeded from (seed, epoch) draws its parameters); validation
runs every epoch on the clean images and reports the paper's measures (median mean and max
relative error in %, misorientation in degrees, radius error in nm). Optimiser: AdamW with a
per-step schedule (cosine: 5 % linear warm-up then cosine decay to 0; onecycle: torch's
OneCycleLR) and gradient-norm clipping. The network runs in channels_last memory format; on
CUDA under bf16 autocast, on the CPU in float32.

The run folder (--out) receives config.json (every option that changes the weights), last.pt
(state after the latest epoch: model, optimiser, scheduler, epoch, random states), best.pt
(weights of the best validation epoch), metrics.csv and metrics.json (one row per epoch).
--resume continues from last.pt with the saved configuration and ends with the same weights as
an uninterrupted run; options given with it must agree with config.json.

Several GPUs or CPU processes: run the same command under
  torchrun --nproc-per-node N $(which wideshot) train ...
(DistributedDataParallel; --batch-size is per process; only process 0 writes)."""

#: One line for `wideshot --help`.
SUMMARY = 'train a network into a run folder'


def _model_option(text: str) -> tuple[str, object]:
    """KEY=VALUE, VALUE read as JSON where it can be (8, [1,1,1,1]) and as text otherwise."""
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def add_parser(subparsers) -> None:
    from wideshot.choices import (
        AUGMENTATION_NAMES,
        LOSS_NAMES,
        MODEL_NAMES,
        NO_AUGMENTATION,
        SCHEDULES,
        SELECTION_MEASURES,
        TRAINING_DEFAULTS,
    )

    parser = subparsers.add_parser("train", help=SUMMARY,
                                   description=HELP,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    data = parser.add_argument_group("data")
    data.add_argument("--train", type=Path, metavar="T.h5",
                      help="training set (wideshot generate); if it has a train/validation "
                           "split, its train part")
    data.add_argument("--val", type=Path, metavar="V.h5",
                      help="validation set (default: the validation part of --train)")
    data.add_argument("--limit", type=int, metavar="N",
                      help="use only the first N images of each set (quick runs)")
    data.add_argument("--augment", metavar="NAME",
                      help=f"on-the-fly augmentation of the training batches: "
                           f"{', '.join(AUGMENTATION_NAMES)}, or {NO_AUGMENTATION} "
                           f"(default {TRAINING_DEFAULTS.augment})")
    run = parser.add_argument_group("network and optimisation")
    run.add_argument("--model", metavar="NAME",
                     help=f"network: {', '.join(MODEL_NAMES)} (default {TRAINING_DEFAULTS.model})")
    run.add_argument("--model-option", type=_model_option, action="append", metavar="KEY=VALUE",
                     dest="model_options",
                     help="architecture override, repeatable: width=16, depth=[2,2,2,2], "
                          "activation=silu, normalization=group")
    run.add_argument("--shapes", metavar="FAMILY,...",
                     help="shape families the network knows, comma-separated, or 'all' "
                          "(sets the model option shapes; default the icosahedron alone)")
    run.add_argument("--classification-weight", type=float, metavar="W",
                     help="weight of the family cross-entropy in the loss (default "
                          f"{TRAINING_DEFAULTS.classification_weight:g})")
    run.add_argument("--epochs", type=int, help=f"epochs (default {TRAINING_DEFAULTS.epochs})")
    run.add_argument("--batch-size", type=int,
                     help=f"images per step and process (default {TRAINING_DEFAULTS.batch_size})")
    run.add_argument("--lr", type=float,
                     help=f"peak learning rate of AdamW (default {TRAINING_DEFAULTS.lr:g})")
    run.add_argument("--weight-decay", type=float,
                     help=f"AdamW weight decay (default {TRAINING_DEFAULTS.weight_decay:g})")
    run.add_argument("--schedule", choices=SCHEDULES,
                     help=f"learning-rate schedule (default {TRAINING_DEFAULTS.schedule})")
    run.add_argument("--loss", choices=sorted(LOSS_NAMES),
                     help=f"training loss: mse (the paper's) or symmetric (the same for every "
                          f"symmetric twin of the label under its family's group); default "
                          f"{TRAINING_DEFAULTS.loss}")
    run.add_argument("--grad-clip", type=float, metavar="NORM",
                     help=f"largest gradient norm, 0 = no clipping "
                          f"(default {TRAINING_DEFAULTS.grad_clip:g})")
    run.add_argument("--select-by", choices=SELECTION_MEASURES,
                     help="validation measure that picks best.pt: median mean relative error "
                          f"or loss (default {TRAINING_DEFAULTS.select_by})")
    run.add_argument("--init-from", metavar="RUN_DIR|MODEL",
                     help="start from the best weights of another run, or a shipped model, of "
                          "the same backbone (fine-tuning; fresh optimiser and schedule; output "
                          "rows of families both know are copied)")
    run.add_argument("--seed", type=int,
                     help=f"seed of weights, data order and augmentation "
                          f"(default {TRAINING_DEFAULTS.seed})")
    folder = parser.add_argument_group("run folder and execution")
    folder.add_argument("--out", type=Path, required=True, metavar="RUN_DIR",
                        help="run folder (config.json, best.pt, last.pt, metrics.csv/json)")
    folder.add_argument("--resume", action="store_true",
                        help="continue the run in RUN_DIR from last.pt (options default to "
                             "its config.json)")
    folder.add_argument("--stop-after", type=int, metavar="EPOCHS",
                        help="stop after this many epochs of this call; continue later with "
                             "--resume (jobs with a time limit)")
    folder.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cuda if available)")
    folder.add_argument("--workers", type=int, metavar="W",
                        help="DataLoader workers per process reading images (default 0 on the "
                             "CPU, up to 8 on CUDA)")
    folder.add_argument("--quiet", action="store_true",
                        help="no progress bars or epoch lines")
    parser.set_defaults(run=run_command)


#: Command-line options that are TrainingConfig fields (the rest steer the execution).
_CONFIG_OPTIONS = ("train", "val", "limit", "augment", "model", "model_options", "epochs",
                   "batch_size", "lr", "weight_decay", "schedule", "loss", "grad_clip",
                   "select_by", "seed", "init_from", "classification_weight")


def parse_shapes(text: str) -> list[str]:
    """Family names of a comma-separated list, or all of them for 'all'; ValueError naming an
    unknown one."""
    from wideshot.choices import ALL_SHAPES
    from wideshot.geometry import SHAPE_NAMES

    names = [name.strip() for name in text.split(",") if name.strip()]
    if names == [ALL_SHAPES]:
        return list(SHAPE_NAMES)
    unknown = [name for name in names if name not in SHAPE_NAMES]
    if unknown or not names:
        raise ValueError(f"--shapes: unknown shape family {', '.join(unknown) or text!r}; "
                         f"choose from {', '.join(SHAPE_NAMES)} or {ALL_SHAPES!r}")
    return names


def run_command(args: argparse.Namespace) -> int:
    from wideshot.training import TrainingConfig, resumed_config, train

    given = {name: getattr(args, name) for name in _CONFIG_OPTIONS
             if getattr(args, name) is not None}
    if "model_options" in given:
        given["model_options"] = dict(given["model_options"])
    if args.shapes is not None:
        given["model_options"] = {**given.get("model_options", {}),
                                  "shapes": parse_shapes(args.shapes)}
    if args.resume:
        config = resumed_config(args.out, **given)
    elif "train" not in given:
        raise ValueError("give the training set with --train (or --resume a run)")
    else:
        config = TrainingConfig(**given)
    train(config, args.out, resume=args.resume, device=args.device, workers=args.workers,
          stop_after=args.stop_after, progress=not args.quiet)
    return 0
