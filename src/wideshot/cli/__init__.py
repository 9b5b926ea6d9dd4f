"""Command line: ``wideshot <command> ...`` — one thin module per stage of the workflow.

Each command module has ``SUMMARY`` (one line), ``add_parser(subparsers)`` (its arguments and
help) and ``run(args) -> int`` (calls the library; no logic of its own). Modules import the
library inside those functions, so that ``wideshot --help`` answers at once. User errors (bad
values, unreadable files) end with a one-line message and exit status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import importlib
import sys

#: Command name → module under wideshot.cli, in workflow order.
COMMANDS = {
    "simulate": "wideshot.cli.simulate",
    "generate": "wideshot.cli.generate",
    "augment": "wideshot.cli.augment",
    "gallery": "wideshot.cli.gallery",
    "train": "wideshot.cli.train",
    "evaluate": "wideshot.cli.evaluate",
    "fit": "wideshot.cli.fit",
    "reconstruct": "wideshot.cli.reconstruct",
    "stream": "wideshot.cli.stream",
    "demo": "wideshot.cli.demo",
}


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The command-line parser. Only the command named in ``argv`` (if any) gets its full
    parser, whose options may need the library; the others are listed by their one-line
    SUMMARY, so that ``wideshot --help`` imports nothing heavy."""
    parser = argparse.ArgumentParser(
        prog="wideshot",
        description="Size, orientation and shape of nanoparticles from single-shot wide-angle "
                    "diffraction images (Stielow et al. 2020). Units: nm, nm⁻¹; quaternions "
                    "(w,x,y,z) scalar first, active; images and labels per docs/conventions.md.")
    from wideshot import __version__
    parser.add_argument("--version", action="version", version=f"wideshot {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    arguments = sys.argv[1:] if argv is None else argv
    chosen = next((argument for argument in arguments if not argument.startswith("-")), None)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        if name == chosen:
            module.add_parser(subparsers)
        else:
            subparsers.add_parser(name, help=module.SUMMARY)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except (ValueError, OSError) as error:
        print(f"wideshot {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"wideshot {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
