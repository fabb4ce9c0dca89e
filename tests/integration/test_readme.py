"""The README's client example runs as printed against a live server."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.support.server import ServerThread

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_example_runs(server: ServerThread, backend: str) -> None:
    example = re.search(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    assert example is not None, "README has no python example"
    code = example.group(1).replace("127.0.0.1:50051", server.address)
    # A name of its own so the example can run against a shared database.
    code = code.replace("nightly-train", f"readme-{backend}")
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["RUNNING_STATUS_SUCCESS", "['loss=0.31', 'loss=0.27']"]


def test_readme_lists_every_setting() -> None:
    from tracking.service.settings import Settings

    text = README.read_text()
    missing = [name for name in Settings.model_fields if f"`TRACKING_{name.upper()}`" not in text]
    assert missing == []
