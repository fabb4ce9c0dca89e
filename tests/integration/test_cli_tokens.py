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
    listed = tracking("", "tokens", "list", "--database-url", url, "-o", "json")
    assert [t["name"] for t in json.loads(listed.stdout)] == ["me"]


def test_tokens_are_a_table_and_an_unknown_one_is_a_refusal(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tracking.db'}"
    created = tracking(
        "", "tokens", "create", "--role", "writer", "--name", "ci-bot", "--database-url", url,
        "--create-database",
    )  # fmt: skip
    token_id = created.stderr.split()[1]  # created tok_... (writer) for ci-bot
    table = tracking("", "tokens", "list", "--database-url", url).stdout.splitlines()
    assert table[0].split() == ["ID", "NAME", "ROLE", "CREATED", "CREATED", "BY", "REVOKED"]
    assert table[1].split()[:3] == [token_id, "ci-bot", "writer"]
    revoked = tracking("", "tokens", "revoke", token_id, "--database-url", url)
    assert (revoked.returncode, revoked.stdout) == (0, f"revoked {token_id} (writer) of ci-bot\n")
    unknown = tracking("", "tokens", "revoke", "tok_0123456789ab", "--database-url", url)
    assert unknown.returncode == 1
    assert "tok_0123456789ab" in one_error_line(unknown)
