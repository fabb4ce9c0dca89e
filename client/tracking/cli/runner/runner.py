"""`tracking run`: create an execution, run a command as its job, report what happens."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from tracking.cli.runner.child import (
    DEFAULT_MAX_LINE,
    Child,
    describe_exit,
    read_lines,
    shell_exit_code,
)
from tracking.cli.runner.line_limit import server_line_limit
from tracking.cli.runner.persist import TRANSIENT, Deadline
from tracking.cli.runner.reporter import StatusReporter
from tracking.cli.runner.shipper import LogShipper
from tracking.client import AsyncTrackingClient, FailedPrecondition, NotFound, RemoteException
from tracking.v1 import execution_pb2, status_pb2

S = status_pb2
# After the command has ended, output still in its pipes (or held open by what it left
# running in the background) is read for at most this long.
DRAIN_SECONDS = 5.0
MAX_MESSAGE = 4096
MAX_JOB_NAME = 60
# A lease is renewed this many times within its timeout, so one lost heartbeat costs nothing.
BEATS_PER_TIMEOUT = 3


@dataclass(frozen=True)
class RunOptions:
    command: Sequence[str]
    deployment_name: str = ""
    pipeline_name: str = ""
    execution_id: str = ""
    job_name: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    grace_seconds: float = 10.0
    retry_seconds: float = 300.0
    echo: bool = True
    heartbeat_timeout: float | None = None  # None: the server's default
    # How the command reaches the server itself (TRACKING_ADDRESS, token, TLS files).
    connection_environment: dict[str, str] = field(default_factory=dict)


def default_job_name(command: Sequence[str]) -> str:
    """The command as a person would type it, on one line: words joined by spaces, an
    argument with spaces in double quotes (single ones when it holds a double quote), its
    whitespace runs made one space; cut with an ellipsis to what fits a table. The exact
    argv is the execution's `command`."""
    name = " ".join(_as_typed(" ".join(part.split())) for part in command)
    return name if len(name) <= MAX_JOB_NAME else name[: MAX_JOB_NAME - 1].rstrip() + "…"


def _as_typed(word: str) -> str:
    if word and not any(c.isspace() for c in word):
        return word
    return f"'{word}'" if '"' in word else f'"{word}"'


def note(message: str) -> None:
    print(f"tracking: {message}", file=sys.stderr, flush=True)


class Runner:
    """Creates the execution, reports RUNNING, starts the command and ships its output; ends
    as SUCCESS or ERROR by the command's exit code, or CANCELED when a CancelExecution (seen
    on WatchStatus) or a SIGINT/SIGTERM to the runner stopped it (SIGTERM to the command's
    process group, SIGKILL after the grace period)."""

    def __init__(self, client: AsyncTrackingClient, options: RunOptions) -> None:
        self._client = client
        self._options = options
        self._deadline = Deadline()
        self._interrupted = asyncio.Event()
        self._interrupt_reason = ""
        self._child: Child | None = None
        self._heartbeat_timeout = 0.0
        self._max_line = DEFAULT_MAX_LINE

    async def run(self) -> int:
        """Return the command's exit code (128 + N if signal N killed it)."""
        options = self._options
        execution = await self._client.create_execution(
            deployment_name=options.deployment_name,
            pipeline_name=options.pipeline_name,
            execution_id=options.execution_id,
            job_name=options.job_name or default_job_name(options.command),
            labels=options.labels,
            heartbeat_timeout=options.heartbeat_timeout,
            command=options.command,
        )
        execution_id = execution.execution_id
        if execution.trace_parent:
            # The runner's reports, and the command's, join the trace of the creation.
            self._client.join_trace(execution.trace_parent)
        self._heartbeat_timeout = execution.heartbeat_timeout.ToTimedelta().total_seconds()
        note(f"execution {execution_id}")
        self._max_line = await server_line_limit(self._client)
        reporter = StatusReporter(self._client, execution_id, self._deadline)
        try:
            await reporter.start()
        except FailedPrecondition as error:
            note(f"not started: {error.message}")
            return 1
        environment = {**options.connection_environment, "TRACKING_EXECUTION_ID": execution_id}
        if execution.trace_parent:
            environment["TRACEPARENT"] = execution.trace_parent
        try:
            child = await Child.start(options.command, environment)
        except OSError as error:
            reason = f"cannot run {options.command[0]!r}: {error.strerror or error}"
            self._deadline.give_up_in(options.retry_seconds)
            await reporter.stop(S.RUNNING_STATUS_ERROR, reason)
            note(reason)
            return 127 if isinstance(error, FileNotFoundError) else 126
        self._child = child
        with self._signals_forwarded():
            return await self._supervise(child, execution_id, reporter)

    async def _supervise(self, child: Child, execution_id: str, reporter: StatusReporter) -> int:
        options = self._options
        shipper = LogShipper(self._client, execution_id, self._deadline)
        shipping = asyncio.create_task(shipper.run())
        readers = asyncio.gather(
            self._read(child, shipper, execution_pb2.LOG_STREAM_STDOUT),
            self._read(child, shipper, execution_pb2.LOG_STREAM_STDERR),
        )
        exited = asyncio.create_task(child.wait())
        cancel_seen = asyncio.create_task(self._cancel_request(execution_id))
        interrupted = asyncio.create_task(self._interrupted.wait())
        beating = asyncio.create_task(self._heartbeats(execution_id))
        await asyncio.wait({exited, cancel_seen, interrupted}, return_when=asyncio.FIRST_COMPLETED)

        stop_reason = ""
        if not exited.done():
            stop_reason = cancel_seen.result() if cancel_seen.done() else self._interrupt_reason
            note(f"stopping the command: {stop_reason}")
            await child.stop(options.grace_seconds)
        returncode = await exited
        for task in (cancel_seen, interrupted, beating):
            task.cancel()
        try:
            await asyncio.wait_for(readers, DRAIN_SECONDS)
        except TimeoutError:
            note("output still open after the command ended; stopped reading it")

        self._deadline.give_up_in(options.retry_seconds)
        shipper.close()
        await shipping
        for problem in shipper.refused:
            note(f"log lines lost: {problem}")

        cause, message = self._outcome(returncode, stop_reason, shipper)
        try:
            await reporter.stop(cause, message)
        except FailedPrecondition as error:
            note(f"could not record the end ({message}): {error.message}")
        return shell_exit_code(returncode)

    @staticmethod
    def _outcome(
        returncode: int, stop_reason: str, shipper: LogShipper
    ) -> tuple[status_pb2.RunningStatus, str]:
        message = describe_exit(returncode)
        if shipper.refused:
            message += f"; {len(shipper.refused)} batches of log lines could not be stored"
        if stop_reason:
            return S.RUNNING_STATUS_CANCELED, f"{stop_reason}; {message}"[:MAX_MESSAGE]
        if returncode == 0:
            return S.RUNNING_STATUS_SUCCESS, message
        return S.RUNNING_STATUS_ERROR, message

    async def _read(
        self, child: Child, shipper: LogShipper, stream: execution_pb2.LogStream
    ) -> None:
        out = child.process.stdout if stream == execution_pb2.LOG_STREAM_STDOUT else None
        pipe = out or child.process.stderr
        assert pipe is not None
        echo: int | None = None
        if self._options.echo:
            echo = sys.stdout.fileno() if out else sys.stderr.fileno()

        async def sink(line: str) -> None:
            await shipper.add(stream, line)

        await read_lines(pipe, sink, echo, self._max_line)

    async def _heartbeats(self, execution_id: str) -> None:
        """Renew the execution's lease while the command runs, so that a runner that dies
        (or loses its machine) leaves the execution UNKNOWN, not RUNNING forever."""
        if self._heartbeat_timeout <= 0:
            return
        every = self._heartbeat_timeout / BEATS_PER_TIMEOUT
        while True:
            await asyncio.sleep(every)
            try:
                await self._client.heartbeat(execution_id)
            except FailedPrecondition:
                # Not running now: suspended by its platform (beats again once resumed), or
                # ended elsewhere, which the cancel watch tells the runner about.
                continue
            except RemoteException as error:
                if error.code not in TRANSIENT:
                    note(f"heartbeat refused, no more will be sent: {error}")
                    return

    async def _cancel_request(self, execution_id: str) -> str:
        """Wait until the execution is asked to stop (or ended by someone else); say why."""
        after_revision = 0
        while True:
            try:
                async for event in self._client.watch(
                    execution_id=execution_id, after_revision=after_revision
                ):
                    after_revision = event.revision
                    status = event.job_status
                    if execution_pb2.CHANGE_KIND_DELETED in event.changes:
                        return "the execution was deleted"
                    if status.status in (
                        S.RUNNING_STATUS_CANCEL_REQUESTED,
                        S.RUNNING_STATUS_CANCELED,
                    ):
                        return (
                            f"canceled: {status.cancel_reason}"
                            if status.cancel_reason
                            else "canceled"
                        )
                    if status.status in (S.RUNNING_STATUS_SUCCESS, S.RUNNING_STATUS_ERROR):
                        return f"ended elsewhere as {S.RunningStatus.Name(status.status)}"
                return "the watch ended"
            except NotFound:
                return "the execution was deleted"
            except RemoteException as error:
                if error.code not in TRANSIENT:
                    note(f"cannot watch for a cancel, the command runs on: {error}")
                    await asyncio.Event().wait()
                await asyncio.sleep(1.0)

    @contextlib.contextmanager
    def _signals_forwarded(self) -> Iterator[None]:
        """A first SIGINT/SIGTERM stops the command as a cancel would; a second kills it and
        gives up on the server at its next failure."""
        loop = asyncio.get_running_loop()

        def on_signal(signum: int) -> None:
            if self._interrupted.is_set():
                # Asked again: kill now, and stop waiting for an unreachable server.
                if self._child is not None:
                    self._child.signal(signal.SIGKILL)
                self._deadline.give_up_in(0)
                return
            self._interrupt_reason = f"tracking run received {signal.Signals(signum).name}"
            self._interrupted.set()

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, on_signal, signum)
        try:
            yield
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
