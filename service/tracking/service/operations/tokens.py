"""Tokens: create (secret shown once), list, revoke, and verify with a short cache."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlmodel import col, select

from tracking.service.domain import auth
from tracking.service.domain.errors import InvalidArgument, NotFound, ValidationCollector
from tracking.service.store.database import Database
from tracking.service.store.models import ApiTokenRow
from tracking.service.store.types import utcnow


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's name and role."""

    name: str
    role: auth.Role
    token_id: str


class Tokens:
    def __init__(self, db: Database, cache_seconds: float = 10.0) -> None:
        self.db = db
        self.cache_seconds = cache_seconds
        self._cache: dict[str, _Cached] = {}

    async def create(self, name: str, role: str, created_by: str) -> tuple[ApiTokenRow, str]:
        errors = ValidationCollector()
        if not name.strip():
            errors.add("name", "is required")
        elif len(name) > 128:
            errors.add("name", f"at most 128 characters, got {len(name)}")
        if role not in auth.Role.__members__:
            errors.add("role", "is required: READER, WRITER or ADMIN")
        errors.raise_if_any()
        token_id, secret = auth.new_token()
        row = ApiTokenRow(
            token_id=token_id,
            name=name.strip(),
            role=role,
            secret_sha256=auth.digest(secret),
            create_time=utcnow(),
            created_by=created_by,
        )
        async with self.db.writing() as session:
            session.add(row)
        return row, secret

    async def list_all(self, include_revoked: bool) -> list[ApiTokenRow]:
        query = select(ApiTokenRow).order_by(col(ApiTokenRow.create_time).desc())
        if not include_revoked:
            query = query.where(col(ApiTokenRow.revoke_time).is_(None))
        async with self.db.reading() as session:
            return list((await session.exec(query)).all())

    async def revoke(self, token_id: str) -> ApiTokenRow:
        if not auth.TOKEN_ID.fullmatch(token_id):
            raise InvalidArgument.of("token_id", "is not a token id (tok_ and 12 hex digits)")
        async with self.db.writing() as session:
            row = await session.get(ApiTokenRow, token_id, with_for_update=True)
            if row is None:
                raise NotFound("token", token_id)
            if row.revoke_time is None:
                row.revoke_time = utcnow()
                session.add(row)
        self._cache.pop(token_id, None)
        return row

    async def verify(self, secret: str) -> Principal | None:
        """The principal of a valid secret; None if malformed, unknown or revoked.

        Lookups are cached for cache_seconds, so a revocation made on another
        replica takes effect here within that time.
        """
        token_id = auth.parse_secret(secret)
        if token_id is None:
            return None
        now = time.monotonic()
        cached = self._cache.get(token_id)
        if cached is None or now - cached.checked_at > self.cache_seconds:
            async with self.db.reading() as session:
                row = await session.get(ApiTokenRow, token_id)
            valid = row is not None and row.revoke_time is None
            cached = _Cached(
                now,
                Principal(row.name, auth.Role[row.role], row.token_id) if row and valid else None,
                row.secret_sha256 if row and valid else "",
            )
            self._cache[token_id] = cached
        if cached.principal is None or not auth.matches(secret, cached.digest):
            return None
        return cached.principal


@dataclass(frozen=True)
class _Cached:
    checked_at: float
    principal: Principal | None
    digest: str
