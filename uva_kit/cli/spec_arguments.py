"""The ``--spec`` / ``--set`` arguments shared by every subcommand that takes a spec."""

from __future__ import annotations

import argparse


def add_spec_arguments(parser: argparse.ArgumentParser, required: bool = True,
                       spec_help: str = "a preset name (`uva-kit spec --list`) or a .toml/.yaml/.json spec file") -> None:
    parser.add_argument("--spec", required=required, help=spec_help)
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a spec value by dotted path, e.g. --set backbone.depth=2 (repeatable)",
    )


def spec_from_arguments(args: argparse.Namespace):
    from uva_kit.spec import load_spec

    return load_spec(args.spec, args.overrides)
