"""Command line: ``wideshot <command> ...`` — one thin module per stage of the workflow.

Each command module has ``add_parser(subparsers)`` (its arguments and help) and
``run(args) -> int`` (calls the library; no logic of its own). User errors (bad values,
unreadable files) end with a one-line message and exit status 2, never a traceback.
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
    "demo": "wideshot.cli.demo",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wideshot",
        description="Size and orientation of icosahedral nanoparticles from single-shot "
                    "wide-angle diffraction images (Stielow et al. 2020). Units: nm, nm⁻¹; "
                    "quaternions (w,x,y,z) scalar first, active; images and labels per the "
                    "conventions in the README.")
    from wideshot import __version__
    parser.add_argument("--version", action="version", version=f"wideshot {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as missing:
            if missing.name != module_name:
                raise
            continue
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
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
