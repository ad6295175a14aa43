"""`codec` command line: builds the parser from `codec/commands/` and dispatches to the chosen command."""

from __future__ import annotations

import argparse
import importlib
import sys

# Each command is a module in codec/commands/ with add_parser(subparsers) and run(args) -> int;
# `--help` lists them in this order.
COMMAND_MODULES = (
    "tokenize",
    "detokenize",
    "info",
    "train",
    "export",
    "prep",
    "prep_teacher",
    "download",
    "eval",
    "bench",
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="codec", description="Speech tokenizer: audio <-> discrete tokens.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"codec.commands.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `codec` console script."""
    args = build_parser().parse_args(argv)
    try:
        _check_device_argument(args)
        return importlib.import_module(f"codec.commands.{args.command.replace('-', '_')}").run(args)
    except (FileNotFoundError, FileExistsError, ValueError, ConnectionError, ImportError) as err:
        print(f"codec {args.command}: error: {err}", file=sys.stderr)
        return 2


def _check_device_argument(args: argparse.Namespace) -> None:
    """A missing GPU or a malformed --device is a one-line error before anything loads."""
    import os

    from codec.runtime.devices import check_device

    device = getattr(args, "device", None)
    if isinstance(device, str):
        check_device(f"cuda:{os.environ.get('LOCAL_RANK', '0')}" if device == "cuda-local" else device)


def _version() -> str:
    from codec import __version__

    return __version__


if __name__ == "__main__":
    sys.exit(main())
