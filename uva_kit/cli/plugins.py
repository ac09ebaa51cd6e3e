"""List plugins, their components, and any load failure.

Prints each plugin with its distribution and version, the components and presets it provides, or the
error that stopped it loading (UVA_KIT_DISABLE_PLUGIN_AUTOLOAD=1 loads the built-ins only).
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--failed", action="store_true", help="exit with status 1 if any plugin failed to load")


def run(args: argparse.Namespace) -> int:
    from uva_kit.plugins import autoload_enabled, reports

    all_reports = reports()
    if not autoload_enabled():
        print("plugin autoload is off (UVA_KIT_DISABLE_PLUGIN_AUTOLOAD): built-ins only")
    for report in all_reports:
        provider = report.provider
        origin = f"{provider.distribution} {provider.version or ''}".strip() if provider.distribution else "(no distribution)"
        status = "ok" if report.ok else "FAILED"
        print(f"{provider.plugin}  [{origin}]  {status}")
        if not report.ok:
            print(f"    error: {report.error}")
            continue
        for slot_name, name in report.components:
            print(f"    {slot_name:<13} {name}")
        for preset in report.presets:
            print(f"    {'preset':<13} {preset}")
    failed = [r for r in all_reports if not r.ok]
    return 1 if args.failed and failed else 0
