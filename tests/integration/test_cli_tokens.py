"""`tracking tokens`, straight on the server's database: never on a database made by mistake."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import one_error_line, tracking


def test_tokens_refuse_a_database_that_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "tracking.db"
    for command in (["list"], ["revoke", "tok_0123456789ab"], ["create", "--role", "admin"]):
        result = tracking("", "tokens", *command, "--database-url", f"sqlite:///{missing}")
        assert result.returncode == 2, result.stderr
        assert f"no database at {missing}" in one_error_line(result)
        assert not missing.exists()


def test_a_first_token_can_start_a_new_database_when_asked(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tracking.db'}"
    created = tracking(
        "", "tokens", "create", "--role", "admin", "--name", "me", "--database-url", url,
        "--create-database",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("tok_")
    listed = tracking("", "tokens", "list", "--database-url", url)
    assert [t["name"] for t in json.loads(listed.stdout)] == ["me"]
