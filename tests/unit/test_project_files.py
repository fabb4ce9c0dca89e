"""The project's own files agree: one version, and pre-commit runs what make lint runs."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_installed_version_is_pyprojects() -> None:
    # tracking --version and GetServiceInfo both read the installed metadata.
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert metadata.version("tracking") == pyproject["project"]["version"]


def lint_commands() -> list[str]:
    makefile = (ROOT / "Makefile").read_text()
    match = re.search(r"^lint:.*\n\t(.+)$", makefile, re.MULTILINE)
    assert match is not None
    variables = {"$(BIN)": ".venv/bin", "$(BUF)": "tools/node_modules/.bin/buf"}
    commands = []
    for command in match[1].split(" && "):
        for name, value in variables.items():
            command = command.replace(name, value)
        commands.append(command.rstrip(" ."))
    return commands


def test_pre_commit_runs_every_check_of_make_lint() -> None:
    config = (ROOT / ".pre-commit-config.yaml").read_text()
    entries = [entry.strip() for entry in re.findall(r"^\s+entry: (.+)$", config, re.MULTILINE)]
    missing = [
        c for c in lint_commands() if not any(e.startswith(c) or c.startswith(e) for e in entries)
    ]
    assert missing == []


def test_every_migration_title_is_one_line() -> None:
    # Alembic logs a migration's title at every upgrade: a second line would break the
    # server's one-record-per-line log.
    versions = ROOT / "service/tracking/service/store/migrations/versions"
    titles = {
        path.name: path.read_text().split('"""')[1].split("\n\n")[0]
        for path in sorted(versions.glob("[0-9]*.py"))
    }
    assert titles
    assert [name for name, title in titles.items() if "\n" in title] == []
