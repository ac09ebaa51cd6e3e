"""The ``uva-kit`` command. Each subcommand is a module here with ``add_arguments`` and ``run``."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from uva_kit import __version__
from uva_kit.errors import UsageError, UvaKitError

# Subcommand name -> module under uva_kit.cli (a new subcommand is one entry here and one module), in the order
# `uva-kit --help` lists them: the workflow (data, training, evaluation), then tools, then the installation.
COMMANDS: dict[str, str] = {
    "quickstart": "quickstart",
    "collect": "collect",
    "train": "train",
    "plot": "plot",
    "train-vae": "train_vae",
    "eval": "eval",
    "convert": "convert",
    "bench": "bench",
    "spec": "spec",
    "info": "info",
    "plugins": "plugins",
}

# Set (to anything but empty) to get the traceback of a bad-input error instead of its one-line message.
TRACEBACK_ENV = "UVA_KIT_TRACEBACK"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="uva-kit", description="Unified Video Action models for robot learning.",
                                     epilog="`uva-kit COMMAND --help` describes a command, its outputs and examples.")
    parser.add_argument("--version", action="version", version=f"uva_kit {__version__}")
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"uva_kit.cli.{module_name}")
        summary = (module.__doc__ or "").strip().splitlines()[0]
        sub = subcommands.add_parser(name, help=summary, description=(module.__doc__ or "").strip(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # keeps the examples' lines
        module.add_arguments(sub)
        sub.set_defaults(run=module.run, parser=sub)  # a subcommand's own parser (eval's kinds set theirs) says UsageErrors
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except UvaKitError as exc:  # bad input, said in one line; anything else is a bug and keeps its traceback
        if os.environ.get(TRACEBACK_ENV):
            raise
        if isinstance(exc, UsageError):
            args.parser.error(str(exc))  # the usage line, then the message; exits with status 2
        print(f"uva-kit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"uva-kit {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`uva-kit plugins | head`): stop quietly, as other tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so that the exit's flush cannot fail again
        return 141  # 128 + SIGPIPE, what a shell reports for a command stopped by a closed pipe


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
