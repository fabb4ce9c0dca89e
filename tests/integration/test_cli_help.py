"""`tracking ... --help` and shell completion: what a person reads and what the shell offers."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import typer.main

from tests.support.process import TRACKING
from tracking.cli.main import app


def command_paths(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from command_paths(sub, (*path, name))


def parameters(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    for param in command.params:
        yield " ".join(("tracking", *path, param.opts[0])), param
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from parameters(sub, (*path, name))


CLI = typer.main.get_command(app)
PATHS = list(command_paths(CLI))


def help_of(*path: str) -> str:
    result = subprocess.run(
        [str(TRACKING), *path, "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("path", PATHS, ids=lambda path: " ".join(("tracking", *path)))
def test_help_shows_no_type_annotations(path: tuple[str, ...]) -> None:
    text = help_of(*path)
    assert re.findall(r"<[a-z]+[^>]*>", text) == []  # <bool>, <str>, <list[str]>, <path>
    [usage] = [line for line in text.splitlines() if "Usage:" in line]
    assert "{" not in usage
    assert re.search(r"\b[a-z_]+_id\b", usage) is None  # arguments are in capitals


def test_every_option_and_argument_has_a_description() -> None:
    undescribed = [name for name, param in parameters(CLI) if not getattr(param, "help", None)]
    assert undescribed == []


def test_a_required_argument_is_named_in_capitals() -> None:
    usage = help_of("executions", "get").splitlines()
    assert any(
        line.strip() == "Usage: tracking executions get [OPTIONS] EXECUTION_ID" for line in usage
    )
    watch = help_of("watch").splitlines()
    assert any(line.strip() == "Usage: tracking watch [OPTIONS] [EXECUTION_ID]" for line in watch)


def test_bash_completes_commands_and_options() -> None:
    script = subprocess.run(
        [str(TRACKING), "--show-completion", "bash"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout

    def offered(*words: str) -> list[str]:
        line = " ".join(words)
        session = (
            f"{script}\n"
            f"COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}\n"
            "_tracking_completion tracking\n"
            'printf "%s\\n" "${COMPREPLY[@]}"\n'
        )
        path = f"{TRACKING.parent}{os.pathsep}{os.environ.get('PATH', '')}"
        result = subprocess.run(
            ["bash", "--norc", "--noprofile", "-c", session],
            capture_output=True,
            text=True,
            env={**os.environ, "PATH": path},
            timeout=60,
            check=True,
        )
        return result.stdout.split()

    assert offered("tracking", "dep") == ["deployments"]
    assert "delete" in offered("tracking", "deployments", "")
    assert offered("tracking", "logs", "--fo") == ["--follow"]
