"""Every `uva-kit ...` command shown in README.md and docs/ names existing subcommands and flags."""

from __future__ import annotations

import argparse
import re
import shlex

import pytest
from documents import DOCUMENTS, code_blocks

from uva_kit.cli import build_parser

PROGRAM = re.compile(r"^(?:\$ )?(?:torchrun .*?-m uva_kit|uva-kit) (?!\S+:)(.*)$")  # not an error line


def documented_commands() -> list[tuple[str, str]]:
    """(where, arguments) of each command line in the documents' code blocks, continuation lines joined."""
    commands = []
    for block in (block for document in DOCUMENTS for block in code_blocks(document)):
        pending, start = "", 0
        for number, line in enumerate(block.lines, block.line):
            text = line.strip()
            if not (pending or PROGRAM.match(text)):
                continue
            start = start if pending else number
            pending += " " + text.split("  #")[0].rstrip(" \\")
            if not text.endswith("\\"):
                commands.append((f"{block.document.name}:{start}", PROGRAM.match(pending.strip()).group(1)))
                pending = ""
    return commands


COMMANDS = documented_commands()


def test_the_commands_of_the_documents_are_found():
    shown = {shlex.split(arguments)[0] for _, arguments in COMMANDS}
    assert {"train", "eval", "collect", "spec", "convert"} <= shown and len(COMMANDS) >= 25


def subcommand_parser(words: list[str]) -> tuple[argparse.ArgumentParser, list[str]]:
    """The parser of the (nested) subcommand that ``words`` name, and the words naming it."""
    parser, path = build_parser(), []
    for word in words:
        choices = next((a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
        if not choices or word.startswith("-"):
            break
        assert word in choices, f"unknown subcommand {' '.join([*path, word])}; choose from {sorted(choices)}"
        parser, path = choices[word], [*path, word]
    return parser, path


@pytest.mark.parametrize("where, arguments", COMMANDS, ids=[where for where, _ in COMMANDS])
def test_documented_command_uses_existing_subcommands_and_flags(where, arguments):
    """Usage lines count too: [optional] parts and a|b alternatives are read as flags."""
    words = shlex.split(re.sub(r"[\[\]|]", " ", arguments))
    parser, path = subcommand_parser(words)
    known = {option for action in parser._actions for option in action.option_strings}
    flags = [word.split("=")[0] for word in words if word.startswith("--")]
    assert path and set(flags) <= known, f"{where}: uva-kit {' '.join(path)} has no {sorted(set(flags) - known)}"
