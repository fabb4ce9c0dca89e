"""The `tracking` command line, run as a user runs it: a process of its own."""

from __future__ import annotations

import os
import subprocess
from typing import Any

from tests.support.process import TRACKING


def cli_env(address: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKING_")}
    return {**env, "TRACKING_ADDRESS": address, **extra}


def tracking(
    address: str, *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `tracking ARGS...` against the server at `address` (given as TRACKING_ADDRESS)."""
    return subprocess.run(
        [str(TRACKING), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or cli_env(address),
        check=False,
    )


def start_tracking(address: str, *args: str, **popen: Any) -> subprocess.Popen[str]:
    """Start `tracking ARGS...` without waiting for it."""
    return subprocess.Popen(
        [str(TRACKING), *args],
        stdout=popen.pop("stdout", subprocess.PIPE),
        stderr=subprocess.PIPE,
        text=True,
        env=popen.pop("env", None) or cli_env(address),
        **popen,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single line a failed command printed on stderr."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]
