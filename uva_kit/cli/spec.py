"""Print a resolved spec (preset or file, --set), or list presets.

Prints every value of the spec, defaults included, to stdout; without --spec (or with --list), the
preset names.

Examples:
  uva-kit spec --list
  uva-kit spec --spec pusht-tiny --set backbone.depth=2 --format json > my-spec.json
"""

from __future__ import annotations

import argparse
import json

from uva_kit.cli.spec_arguments import add_spec_arguments, spec_from_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec_arguments(parser, required=False)
    parser.add_argument("--format", choices=("yaml", "json"), default="yaml", help="output format (default: yaml)")
    parser.add_argument("--list", action="store_true", help="list the available presets and exit (also without --spec)")


def run(args: argparse.Namespace) -> int:
    from uva_kit.spec import preset_names, to_dict

    if args.list or args.spec is None:
        for name in preset_names():
            print(name)
        return 0
    spec = spec_from_arguments(args)
    if args.format == "json":
        print(json.dumps(to_dict(spec), indent=2))
    else:
        print(spec, end="")  # UVASpec.__str__ is the YAML
    return 0
