"""Deployment use cases."""

from __future__ import annotations

import dataclasses

from tracking.service.domain import deployments as rules
from tracking.service.domain import filters
from tracking.service.domain.changes import Change
from tracking.service.domain.clock import utcnow
from tracking.service.domain.errors import AlreadyExists, InvalidArgument, ValidationCollector
from tracking.service.domain.limits import Limits
from tracking.service.domain.names import check_deployment_name
from tracking.service.domain.page_tokens import PageTokenCodec, query_fingerprint
from tracking.service.events.hub import EventHub
from tracking.service.operations.paging import Page, page_size
from tracking.service.operations.recording import Recorder
from tracking.service.store import deployments as store
from tracking.service.store import executions as execution_store
from tracking.service.store.database import Database
from tracking.service.store.faults import duplicate
from tracking.service.store.group import Batch
from tracking.service.store.models import DeploymentRow


class Deployments:
    def __init__(self, db: Database, hub: EventHub, limits: Limits, recorder: Recorder) -> None:
        self.db = db
        self.hub = hub
        self.limits = limits
        self.recorder = recorder

    async def create(self, fields: rules.DeploymentFields, principal: str) -> DeploymentRow:
        errors = ValidationCollector()
        rules.check(errors, fields)
        errors.raise_if_any()
        rules.check_documents_fit(fields, self.limits.max_deployment_documents)
        now = utcnow()
        row = DeploymentRow(
            **dataclasses.asdict(fields),
            create_time=now,
            update_time=now,
            created_by=principal,
            updated_by=principal,
        )
        try:
            async with self.db.writing() as session:
                if await store.exists_named(session, row.name):
                    raise AlreadyExists(f"deployment {row.name!r} already exists")
                session.add(row)
                await session.flush()
                await store.replace_labels(session, row.name, row.labels)
                await self.db.add_deployment_event(
                    session, store.deployment_event(row, "CREATED", now)
                )
        except Exception as error:
            if not duplicate(error):
                raise
            raise AlreadyExists(f"deployment {row.name!r} already exists") from None
        return row

    async def get(self, name: str) -> DeploymentRow:
        self._check_name(name)
        async with self.db.reading() as session:
            return await store.get(session, name)

    async def list_page(
        self, filter_text: str, requested_size: int, page_token: str
    ) -> Page[DeploymentRow]:
        size = page_size(requested_size, self.limits)
        conditions = filters.parse(filter_text, rules.FILTER_FIELDS)
        query = query_fingerprint("deployments", filters.canonical(conditions))
        codec = PageTokenCodec(self.db.page_token_secret)
        after = codec.decode(page_token, query).get("name") if page_token else None
        if page_token and not isinstance(after, str):
            raise InvalidArgument.of("page_token", "is not a token this service issued")
        async with self.db.reading() as session:
            rows = await store.list_page(session, conditions, after, size + 1)

        def token_after(last: DeploymentRow) -> str:
            return codec.encode(query, {"name": last.name})

        return Page(rows[:size], len(rows) > size, token_after)

    async def update(
        self, name: str, fields: rules.DeploymentFields, paths: list[str], principal: str
    ) -> DeploymentRow:
        self._check_name(name, "deployment.name")
        errors = ValidationCollector()
        if not paths:
            errors.add("update_mask", "name at least one field to change")
        for path in paths:
            if path in rules.IMMUTABLE_FIELDS:
                errors.add("update_mask", f"{path!r} cannot be changed after creation")
            elif path in rules.OUTPUT_ONLY_FIELDS:
                errors.add("update_mask", f"{path!r} is output only")
            elif path not in rules.MUTABLE_FIELDS:
                errors.add("update_mask", f"{path!r} is not a field of Deployment")
        errors.raise_if_any()
        async with self.db.writing() as session:
            row = await store.get(session, name, for_update=True)
            changed = {path: getattr(fields, path) for path in paths}
            merged = dataclasses.replace(_stored_fields(row), **changed)
            rules.check(errors, merged)
            errors.raise_if_any()
            # Before anything is written: a refused change leaves the row as it was.
            rules.check_documents_fit(merged, self.limits.max_deployment_documents)
            for path, value in changed.items():
                setattr(row, path, value)
            row.update_time = utcnow()
            row.updated_by = principal
            session.add(row)
            if "labels" in paths:
                await store.replace_labels(session, name, row.labels)
            await self.db.add_deployment_event(
                session, store.deployment_event(row, "UPDATED", row.update_time)
            )
        return row

    async def delete(self, name: str) -> tuple[DeploymentRow, int]:
        """Delete a deployment, its executions and their logs; watchers see DELETED."""
        self._check_name(name)

        async def remove(batch: Batch) -> tuple[DeploymentRow, int]:
            session = batch.session
            row = await store.get(session, name, for_update=True)
            executions = await execution_store.lock_all_of_deployment(session, name)
            events = await self.recorder.record(batch, [(e, [Change.DELETED]) for e in executions])
            await session.flush()
            await execution_store.delete_rows(session, [e.execution_id for e in executions])
            await store.delete_row(session, row)
            batch.add_deployment_event(store.deployment_event(row, "DELETED", utcnow()))
            batch.announce("deployment_deleted", "", name)

            def published() -> None:
                self.hub.publish(events)
                self.hub.deployment_deleted(name)

            batch.after_commit(published)
            return row, len(executions)

        # One write of a group commit, so that it never races this process's other writes;
        # like the deployment's creations (key "0:<name>") it locks the deployment's row,
        # then its executions in the order of their ids, as the changes that follow do
        # (store/group.py): two processes' transactions lock in the same order.
        return await self.db.write(remove, key=f"0:{name}", session=True)

    @staticmethod
    def _check_name(name: str, field: str = "name") -> None:
        errors = ValidationCollector()
        check_deployment_name(errors, field, name)
        errors.raise_if_any()


def _stored_fields(row: DeploymentRow) -> rules.DeploymentFields:
    names = (field.name for field in dataclasses.fields(rules.DeploymentFields))
    return rules.DeploymentFields(**{name: getattr(row, name) for name in names})
