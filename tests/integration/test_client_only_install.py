"""A plain `pip install` (no extras) gives a `tracking` whose client commands all work.

A fresh virtual environment gets the package without its server extra; each client
command's help runs, `serve` and `tokens` say which extra they need, and real calls reach a
server.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import cli_env
from tests.support.environment import cannot_run
from tests.support.factories import unique
from tests.support.server import ServerThread

ROOT = Path(__file__).resolve().parents[2]
CLIENT_COMMANDS = [
    [],
    ["deployments", "create"],
    ["deployments", "list"],
    ["deployments", "get"],
    ["deployments", "update"],
    ["deployments", "delete"],
    ["executions", "create"],
    ["executions", "list"],
    ["executions", "get"],
    ["executions", "cancel"],
    ["executions", "delete"],
    ["watch"],
    ["logs"],
    ["run"],
    ["health"],
    ["report", "progress"],
    ["report", "output"],
    ["report", "result"],
    ["report", "step"],
    ["report", "heartbeat"],
]


@pytest.fixture(scope="module")
def client_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `tracking` command of a virtual environment with only the base package."""
    venv = tmp_path_factory.mktemp("client-only") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    installed = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    if installed.returncode != 0:
        cannot_run(f"pip install of the base package failed: {installed.stderr[-2000:]}")
    return venv / "bin" / "tracking"


def run(
    command: Path, *args: str, address: str = "127.0.0.1:1"
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(command), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=cli_env(address),
        check=False,
    )


def test_the_base_install_has_no_server(client_only: Path) -> None:
    python = client_only.with_name("python")
    probe = "import importlib.util as u; print(u.find_spec('sqlalchemy') is None)"
    assert subprocess.run([str(python), "-c", probe], capture_output=True, text=True).stdout == (
        "True\n"
    )


@pytest.mark.parametrize("command", CLIENT_COMMANDS, ids=lambda c: " ".join(c) or "tracking")
def test_every_client_command_shows_its_help(client_only: Path, command: list[str]) -> None:
    result = run(client_only, *command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout


@pytest.mark.parametrize("command", [["serve"], ["tokens", "list"]], ids=["serve", "tokens"])
def test_server_commands_say_which_extra_they_need(client_only: Path, command: list[str]) -> None:
    result = run(client_only, *command)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: the server is not installed (")
    assert line.endswith("in the repository, pip install '.[server]' (make install does it)")


def test_real_calls_reach_a_server(client_only: Path, server: ServerThread) -> None:
    name = unique("client-only")
    created = run(
        client_only, "deployments", "create", name, "--pipeline", "p", address=server.address
    )
    assert created.returncode == 0, created.stderr
    listed = run(client_only, "deployments", "list", "-o", "json", address=server.address)
    assert name in listed.stdout
