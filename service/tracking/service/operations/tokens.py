"""Tokens: create (secret shown once), list, revoke, and verify with a short cache."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from cachetools import TTLCache

from tracking.service.domain import auth
from tracking.service.domain.auth import Principal
from tracking.service.domain.clock import utcnow
from tracking.service.domain.errors import (
    InvalidArgument,
    NotFound,
    Unavailable,
    ValidationCollector,
)
from tracking.service.store import tokens as token_store
from tracking.service.store.database import Database
from tracking.service.store.faults import connection_lost
from tracking.service.store.models import ApiTokenRow

# Token ids remembered at once, unknown ones included; more push the oldest out.
CACHE_ENTRIES = 10_000
# The issued ids are read at most this often, however many unknown ids are asked about.
ISSUED_READ_SECONDS = 1.0


class Tokens:
    def __init__(self, db: Database, cache_seconds: float = 10.0) -> None:
        self.db = db
        self.cache_seconds = cache_seconds
        # A TTL cache (with a zero TTL, nothing is kept): a lookup is trusted this long, and
        # ids nobody issued take a bounded amount of memory however many are tried.
        self._cache: TTLCache[str, _Cached] = TTLCache(CACHE_ENTRIES, max(cache_seconds, 1e-9))
        self.lookups = 0  # statements run to check tokens
        self.issued_reads = 0  # statements run to list the issued ids
        self._issued: frozenset[str] = frozenset()
        self._issued_as_of = -ISSUED_READ_SECONDS  # monotonic time the last read began
        self._issued_tried = -ISSUED_READ_SECONDS
        self._issued_read: asyncio.Task[None] | None = None

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
        async with self.db.reading() as session:
            return await token_store.listed(session, include_revoked)

    async def revoke(self, token_id: str) -> ApiTokenRow:
        if not auth.TOKEN_ID.fullmatch(token_id):
            raise InvalidArgument.of("token_id", "is not a token id (tok_ and 12 hex digits)")
        async with self.db.writing() as session:
            row = await token_store.find(session, token_id, lock=True)
            if row is None:
                raise NotFound("token", token_id)
            if row.revoke_time is None:
                row.revoke_time = utcnow()
                session.add(row)
        self._cache.pop(token_id, None)
        return row

    def verified_recently(self, secret: str) -> Principal | None:
        """The principal of a secret checked within the cache time; None otherwise (no
        lookup is made)."""
        token_id = auth.parse_secret(secret)
        cached = self._cache.get(token_id) if token_id else None
        return cached.admits(secret) if cached else None

    async def may_be_issued(self, token_id: str) -> bool:
        """Whether a token with this id was issued and not revoked, as a read of the issued
        ids begun after this call tells (a read made for this call or shared with others
        asking at the same time; at most one every ISSUED_READ_SECONDS). A token made a
        moment ago on another replica is found: the answer waits for the next read."""
        if token_id in self._issued:
            return True
        asked = time.monotonic()
        while self._issued_as_of < asked:
            if self._issued_read is None or self._issued_read.done():
                wait = self._issued_tried + ISSUED_READ_SECONDS - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                    continue
                self._issued_read = asyncio.create_task(self._read_issued())
            await asyncio.shield(self._issued_read)
        return token_id in self._issued

    async def _read_issued(self) -> None:
        began = self._issued_tried = time.monotonic()
        self.issued_reads += 1
        async with self.db.reading() as session:
            issued = await token_store.issued_ids(session)
        self._issued, self._issued_as_of = frozenset(issued), began

    async def verify(self, secret: str) -> Principal | None:
        """The principal of a valid secret; None if malformed, unknown or revoked.
        Unavailable when the database cannot be asked.

        Lookups are cached for cache_seconds, so a revocation made on another
        replica takes effect here within that time.
        """
        token_id = auth.parse_secret(secret)
        if token_id is None:
            return None
        cached = self._cache.get(token_id)
        if cached is None:
            self.lookups += 1
            try:
                async with self.db.reading() as session:
                    row = await token_store.find(session, token_id)
            except Exception as error:
                if connection_lost(error):
                    raise Unavailable(
                        "cannot check the token: the database is unreachable"
                    ) from None
                raise
            valid = row is not None and row.revoke_time is None
            cached = _Cached(
                Principal(row.name, auth.Role[row.role], row.token_id) if row and valid else None,
                row.secret_sha256 if row and valid else "",
            )
            if self.cache_seconds > 0:
                self._cache[token_id] = cached
        return cached.admits(secret)


@dataclass(frozen=True)
class _Cached:
    principal: Principal | None
    digest: str

    def admits(self, secret: str) -> Principal | None:
        """The principal, if the token is valid and `secret` is its secret."""
        if self.principal is None or not auth.matches(secret, self.digest):
            return None
        return self.principal
