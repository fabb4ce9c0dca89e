"""What the Dockerfile's final stage sets up, read from the file: its instructions, its
environment, its entry point and user. Tests run `tracking` as the image would."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

DOCKERFILE = Path(__file__).resolve().parents[2] / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(maxsplit=1)[0], line.split(maxsplit=1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def final_stage() -> list[tuple[str, str]]:
    found = instructions()
    last = [i for i, (name, _) in enumerate(found) if name == "FROM"][-1]
    return found[last:]


def the(name: str) -> str:
    """The final stage's last `name` instruction (USER, WORKDIR, ENTRYPOINT...)."""
    values = [rest for instruction, rest in final_stage() if instruction == name]
    assert values, f"the Dockerfile's final stage has no {name}"
    return values[-1]


def image_environment() -> dict[str, str]:
    """The final stage's ENV, without PATH (the test's own venv stands in for the image's)."""
    values: dict[str, str] = {}
    for name, rest in final_stage():
        if name == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                values[key] = value
    values.pop("PATH", None)
    return values


def entrypoint() -> list[str]:
    command: list[str] = json.loads(the("ENTRYPOINT"))
    return command
