"""Execution use cases: create, read, list, delete, status, outputs, steps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from tracking.service.domain import executions as rules
from tracking.service.domain import filters, job_actions, leases
from tracking.service.domain.changes import Change
from tracking.service.domain.clock import utcnow
from tracking.service.domain.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ValidationCollector,
)
from tracking.service.domain.execution_state import ExecutionState, JobState, new_state
from tracking.service.domain.executions import NewExecution
from tracking.service.domain.job_actions import JobFields, Revised, StatusAction, check_action
from tracking.service.domain.job_status import JobStatus
from tracking.service.domain.limits import Limits
from tracking.service.domain.names import (
    check_execution_id,
    check_request_id,
    check_text,
    check_unique_names,
    new_execution_id,
)
from tracking.service.domain.page_tokens import PageTokenCodec, query_fingerprint
from tracking.service.events.hub import EventHub
from tracking.service.operations.paging import Page, page_size
from tracking.service.operations.recording import Recorder
from tracking.service.store import deployments as deployment_store
from tracking.service.store import executions as store
from tracking.service.store.database import Database
from tracking.service.store.faults import duplicate
from tracking.service.store.group import Batch
from tracking.service.store.models import ExecutionRow

# What a change does to an execution locked for it: the kinds of change it made.
Apply = Callable[[ExecutionState, datetime], list[Change]]
# The same for a status change, which needs the JobStatus and lease fields alone.
ApplyToJob = Callable[[Revised, datetime], list[Change]]


def check_id(execution_id: str, field: str = "execution_id") -> None:
    errors = ValidationCollector()
    check_execution_id(errors, field, execution_id)
    errors.raise_if_any()


class Executions:
    def __init__(self, db: Database, hub: EventHub, limits: Limits, recorder: Recorder) -> None:
        self.db = db
        self.hub = hub
        self.limits = limits
        self.recorder = recorder

    async def create(
        self, new: NewExecution, request_id: str, fingerprint: str, principal: str
    ) -> store.StoredExecution:
        """Create in WAITING; a repeated request_id with the same content returns the first."""
        errors = ValidationCollector()
        rules.check(errors, new)
        check_request_id(errors, "request_id", request_id)
        errors.raise_if_any()
        rules.check_documents_fit(new.documents(), self.limits.max_execution_documents)
        if request_id:
            earlier = await store.stored_by_request_id(self.db.driver, request_id)
            if earlier is not None:
                return await self._same_request(earlier, request_id, fingerprint)
        try:
            state = await self._insert(new, request_id, fingerprint, principal)
        except Exception as error:
            if not duplicate(error):
                raise
            # A concurrent twin won the race for the request_id or the execution_id.
            earlier = (
                await store.stored_by_request_id(self.db.driver, request_id) if request_id else None
            )
            if earlier is not None:
                return await self._same_request(earlier, request_id, fingerprint)
            raise AlreadyExists(f"execution {new.execution_id!r} already exists") from None
        assert state.message is not None
        return store.StoredExecution.of_row(state, state.message)

    async def _same_request(
        self, earlier: tuple[str, store.StoredExecution], request_id: str, fingerprint: str
    ) -> store.StoredExecution:
        earlier_fingerprint, stored = earlier
        if earlier_fingerprint != fingerprint:
            raise AlreadyExists(
                f"request_id {request_id!r} was already used for execution "
                f"{stored.execution_id!r} with different content"
            )
        shown = await self._with_messages([stored])
        if not shown:
            raise NotFound("execution", stored.execution_id)
        return shown[0]

    async def _insert(
        self, new: NewExecution, request_id: str, fingerprint: str, principal: str
    ) -> ExecutionState:
        deployment_name = new.deployment_name or None
        heartbeat_timeout_seconds = new.heartbeat_timeout_seconds
        if heartbeat_timeout_seconds is None:
            heartbeat_timeout_seconds = self.limits.default_heartbeat_timeout_seconds

        async def insert(batch: Batch) -> ExecutionState:
            connection = batch.connection
            now = utcnow()
            pipeline_name = new.pipeline_name
            if deployment_name:
                enabled, pipeline = await deployment_store.lock_for_execution(
                    connection, deployment_name
                )
                if not enabled:
                    raise FailedPrecondition(
                        f"deployment {deployment_name!r} is disabled: enable it to create executions"
                    )
                pipeline_name = pipeline_name or pipeline
            execution_id = new.execution_id or new_execution_id(deployment_name or "")
            if new.execution_id and await store.exists(connection, execution_id):
                raise AlreadyExists(f"execution {execution_id!r} already exists")
            state = new_state(new, execution_id, pipeline_name, heartbeat_timeout_seconds, now)
            state.created_by = principal
            event = await self.recorder.save_new(
                batch, state, request_id or None, fingerprint if request_id else "", now
            )
            if deployment_name:
                await deployment_store.set_last_execution(connection, deployment_name, execution_id)
            batch.after_commit(lambda: self.hub.publish([event]))
            return state

        # Creations in one deployment lock its row: they come first in a batch (PostgreSQL).
        return await self.db.write(insert, key=f"0:{deployment_name or ''}")

    async def get(self, execution_id: str) -> ExecutionRow:
        check_id(execution_id)
        async with self.db.reading() as session:
            return await store.get(session, execution_id)

    async def get_stored(self, execution_id: str) -> store.StoredExecution:
        check_id(execution_id)
        found = await store.stored(self.db.driver, execution_id)
        shown = await self._with_messages([found])
        if not shown:
            raise NotFound("execution", execution_id)
        return shown[0]

    async def _with_messages(
        self, page: list[store.StoredExecution]
    ) -> list[store.StoredExecution]:
        """The page with a message for every row: a row whose message does not show its
        revision (written by an older version) is read whole and encoded; one deleted
        since is left out."""
        missing = [stored.execution_id for stored in page if stored.message is None]
        if not missing:
            return page
        async with self.db.reading() as session:
            rows = await store.rows_by_id(session, missing)
        encoded = {
            row.execution_id: store.StoredExecution.of_row(row, self.recorder.encode(row))
            for row in rows
        }
        return [
            stored if stored.message is not None else encoded[stored.execution_id]
            for stored in page
            if stored.message is not None or stored.execution_id in encoded
        ]

    async def job_status(self, execution_id: str) -> JobStatus:
        check_id(execution_id)
        return await store.read_job_status(self.db.driver, execution_id)

    async def list_page(
        self, filter_text: str, requested_size: int, page_token: str
    ) -> Page[store.StoredExecution]:
        size = page_size(requested_size, self.limits)
        conditions = filters.parse(filter_text, rules.FILTER_FIELDS)
        query = query_fingerprint("executions", filters.canonical(conditions))
        codec = PageTokenCodec(self.db.page_token_secret)
        after = None
        if page_token:
            position = codec.decode(page_token, query)
            try:
                after = (datetime.fromisoformat(position["t"]), str(position["id"]))
            except (KeyError, TypeError, ValueError):
                raise InvalidArgument.of(
                    "page_token", "is not a token this service issued"
                ) from None
        while True:
            rows = await store.stored_page(self.db.driver, conditions, after, size + 1)
            more = len(rows) > size
            shown = await self._with_messages(rows[:size])
            if shown or not more:
                break
            # Every row read was deleted before its message could be made: read on after them.
            after = (rows[size - 1].create_time, rows[size - 1].execution_id)

        def token_after(last: store.StoredExecution) -> str:
            return codec.encode(query, {"t": last.create_time.isoformat(), "id": last.execution_id})

        return Page(shown, more, token_after)

    async def delete(self, execution_id: str) -> None:
        check_id(execution_id)

        async def remove(batch: Batch) -> None:
            session = batch.session
            row = await store.get(session, execution_id, for_update=True)
            (event,) = await self.recorder.record(batch, [(row, [Change.DELETED])])
            await session.flush()
            await store.delete_rows(session, [execution_id])
            batch.after_commit(lambda: self.hub.publish([event]))

        # In a group commit, locking like the changes of the execution (store/group.py).
        await self.db.write(remove, key=f"1:{execution_id}", session=True)

    async def get_input(self, execution_id: str, name: str) -> dict[str, Any]:
        return self._named(
            await self._get_checked(execution_id, name, "input_name"), "inputs", name
        )

    async def get_output(self, execution_id: str, name: str) -> dict[str, Any]:
        return self._named(
            await self._get_checked(execution_id, name, "output_name"), "outputs", name
        )

    async def _get_checked(self, execution_id: str, name: str, field: str) -> ExecutionRow:
        errors = ValidationCollector()
        check_execution_id(errors, "execution_id", execution_id)
        if not name:
            errors.add(field, "is required")
        errors.raise_if_any()
        return await self.get(execution_id)

    @staticmethod
    def _named(row: ExecutionRow, kind: str, name: str) -> dict[str, Any]:
        for item in getattr(row, kind):
            if item.get("name") == name:
                return dict(item)
        raise NotFound(kind.removesuffix("s"), f"{row.execution_id}/{name}")

    async def update_status(
        self, execution_id: str, action: StatusAction, expected_revision: int | None
    ) -> JobState | ExecutionState:
        check_id(execution_id)
        errors = ValidationCollector()
        if expected_revision is not None and expected_revision < 0:
            errors.add("expected_revision", "must not be negative")
        check_action(errors, action)
        errors.raise_if_any()

        def apply(job: Revised, now: datetime) -> list[Change]:
            return job_actions.act(job, action, expected_revision, now)

        return await self._change_job(execution_id, apply)

    async def cancel(self, execution_id: str, reason: str) -> JobState | ExecutionState:
        check_id(execution_id)
        errors = ValidationCollector()
        check_text(errors, "reason", reason)
        errors.raise_if_any()

        def apply(job: JobFields, now: datetime) -> list[Change]:
            return job_actions.cancel_job(job, reason, now)

        return await self._change_job(execution_id, apply)

    async def set_outputs(
        self,
        execution_id: str,
        outputs: list[dict[str, Any]],
        result: dict[str, Any] | None,
        export_paths: dict[str, str],
        source_views: dict[str, str],
    ) -> ExecutionState:
        check_id(execution_id)
        errors = ValidationCollector()
        check_unique_names(errors, "outputs", [o.get("name", "") for o in outputs])
        errors.raise_if_any()

        def apply(row: ExecutionState, now: datetime) -> list[Change]:
            restored = job_actions.reported(row, now)
            by_name = {o["name"]: o for o in row.outputs}
            by_name.update({o["name"]: o for o in outputs})
            row.outputs = list(by_name.values())
            if result is not None:
                row.result = result
            row.export_paths = {**row.export_paths, **export_paths}
            row.source_views = {**row.source_views, **source_views}
            self._check_fits(row)
            return [*restored, Change.OUTPUTS]

        return await self._change(execution_id, apply)

    async def update_step(
        self, execution_id: str, step: dict[str, Any]
    ) -> tuple[dict[str, Any], int]:
        check_id(execution_id)
        if not step.get("name"):
            raise InvalidArgument.of("step.name", "is required")

        def apply(row: ExecutionState, now: datetime) -> list[Change]:
            restored = job_actions.reported(row, now)
            steps = list(row.steps)
            for index, existing in enumerate(steps):
                if existing["name"] == step["name"]:
                    steps[index] = step
                    break
            else:
                steps.append(step)
            row.steps = steps
            self._check_fits(row)
            return [*restored, Change.STEP]

        row = await self._change(execution_id, apply)
        return step, row.revision

    def _check_fits(self, row: ExecutionState) -> None:
        documents = {name: getattr(row, name) for name in rules.DOCUMENT_FIELDS}
        rules.check_documents_fit(documents, self.limits.max_execution_documents)

    async def mark_lapsed(self, execution_id: str, now: datetime) -> bool:
        """Mark the execution UNKNOWN if its lease ran out before `now`; whether it was."""
        marked: list[Change] = []

        def apply(row: JobFields, _now: datetime) -> list[Change]:
            marked[:] = [Change.STATUS] if leases.lapse(row, now) else []
            return marked

        await self._change_job(execution_id, apply)
        return bool(marked)

    async def _change(self, execution_id: str, apply: Apply) -> ExecutionState:
        """Lock the row, apply the change, bump the revision and record the event, in the
        next group commit. A change that reports no kind (a renewed lease) is saved without
        an event and keeps its revision."""

        async def change(batch: Batch) -> ExecutionState:
            now = utcnow()
            state, before = await store.lock(batch.connection, execution_id)
            event = await self.recorder.save_change(batch, state, before, apply(state, now), now)
            if event is not None:
                batch.after_commit(lambda: self.hub.publish([event]))
            return state

        # `apply` raises before `change` writes anything: no savepoint needed.
        return await self.db.write(change, key=f"1:{execution_id}", savepoint=False)

    async def _change_job(self, execution_id: str, apply: ApplyToJob) -> JobState | ExecutionState:
        """`_change` for a status change: it locks and writes the JobState alone and puts the
        new JobStatus in the stored message (store.lock_status)."""

        async def change(batch: Batch) -> JobState | ExecutionState:
            now = utcnow()
            state, before = await store.lock_status(batch.connection, execution_id)
            event = await self.recorder.save_change(batch, state, before, apply(state, now), now)
            if event is not None:
                batch.after_commit(lambda: self.hub.publish([event]))
            return state

        # `apply` raises before `change` writes anything: no savepoint needed.
        return await self.db.write(change, key=f"1:{execution_id}", savepoint=False)
