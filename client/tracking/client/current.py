"""The execution a job runs as: `tracking run` names it in the command's environment.

`tracking run` gives its command TRACKING_EXECUTION_ID and what it needs to reach the
server (TRACKING_ADDRESS, TRACKING_TOKEN, TRACKING_TLS_CA / _CERT / _KEY), so that the job
can report its own progress, outputs and results.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import grpc
from google.protobuf import struct_pb2

from tracking.v1 import execution_pb2, io_pb2, status_pb2

from .convert import EnumArg, enum_value
from .methods import DEFAULT_ADDRESS
from .metric_batcher import MetricBatcher
from .sync_client import TrackingClient

EXECUTION_ID_VARIABLE = "TRACKING_EXECUTION_ID"


class NoCurrentExecution(RuntimeError):
    """Raised by current_execution() outside a job: no TRACKING_EXECUTION_ID is set."""


def credentials_from_files(
    ca: str | Path | None, cert: str | Path | None, key: str | Path | None
) -> grpc.ChannelCredentials | None:
    """TLS credentials from PEM files (None without a CA or a certificate: plaintext)."""
    if not ca and not cert:
        return None
    if bool(cert) != bool(key):
        raise ValueError("a client certificate and its key go together")
    return grpc.ssl_channel_credentials(
        root_certificates=Path(ca).read_bytes() if ca else None,
        private_key=Path(key).read_bytes() if key else None,
        certificate_chain=Path(cert).read_bytes() if cert else None,
    )


class CurrentExecution:
    """A handle on one execution for the job itself: report progress, outputs, results,
    steps, log lines and metric points. Close it (or use it as a context manager) when
    done."""

    def __init__(self, client: TrackingClient, execution_id: str) -> None:
        self.client = client
        self.execution_id = execution_id
        self._metrics: MetricBatcher | None = None

    def progress(self, fraction: float, phase: str = "") -> status_pb2.JobStatus:
        """Report progress between 0 and 1, and the phase if not empty."""
        return self.client.update_progress(self.execution_id, fraction, phase=phase)

    def output(self, name: str, value: Any, data_type: str = "") -> execution_pb2.Execution:
        """Record one output (any JSON value), replacing the output of the same name."""
        output = io_pb2.ExecutionOutput(name=name, data_type=data_type)
        output.value.CopyFrom(_json_value(value))
        return self.client.set_execution_outputs(self.execution_id, outputs=[output])

    def result(self, values: Mapping[str, Any]) -> execution_pb2.Execution:
        """Replace the execution's result (metrics, best epoch, ...)."""
        return self.client.set_execution_outputs(self.execution_id, result=dict(values))

    def step(self, name: str, status: EnumArg) -> execution_pb2.Step:
        """Add or replace a step with this status."""
        step = execution_pb2.Step(name=name, status=enum_value(status_pb2.RunningStatus, status))
        return self.client.update_step(self.execution_id, step)

    def log(self, lines: Iterable[str], *, stderr: bool = False) -> int:
        """Append log lines; returns the last seq."""
        stream = execution_pb2.LOG_STREAM_STDERR if stderr else execution_pb2.LOG_STREAM_STDOUT
        entries = [execution_pb2.LogEntry(message=line, stream=stream) for line in lines]
        return self.client.append_logs(self.execution_id, entries)

    def metric(
        self, name: str, value: float, step: int | None = None, time: dt.datetime | None = None
    ) -> None:
        """Record one metric point without waiting for the server: points are sent in the
        background in batches, and flushed by flush(), close() and at interpreter exit.
        Without a step the point follows its series' largest step; its time is now unless
        given. A name the server would refuse raises ValueError at once."""
        if self._metrics is None:
            self._metrics = MetricBatcher(self.client, self.execution_id)
        self._metrics.add(name, value, step, time)

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every metric point recorded so far was stored (MetricsNotStored if
        the server refused some)."""
        if self._metrics is not None:
            self._metrics.flush(timeout)

    def heartbeat(self) -> status_pb2.JobStatus:
        """Tell the server the job is alive (`tracking run` already does, on its own)."""
        return self.client.heartbeat(self.execution_id)

    def get(self) -> execution_pb2.Execution:
        return self.client.get_execution(self.execution_id)

    def close(self) -> None:
        """Send the metric points still queued, then close the connection."""
        try:
            if self._metrics is not None:
                self._metrics.close()
                self._metrics.flush()
        finally:
            self.client.close()

    def __enter__(self) -> CurrentExecution:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def current_execution(environ: Mapping[str, str] | None = None) -> CurrentExecution:
    """The execution named by TRACKING_EXECUTION_ID, on the server the environment names.

    Works with no arguments in a command started by `tracking run`; raises
    NoCurrentExecution anywhere else.
    """
    env = os.environ if environ is None else environ
    execution_id = env.get(EXECUTION_ID_VARIABLE, "")
    if not execution_id:
        raise NoCurrentExecution(
            f"{EXECUTION_ID_VARIABLE} is not set: current_execution() works in a command run by "
            f"`tracking run`, or with {EXECUTION_ID_VARIABLE} set to an execution's id"
        )
    credentials = credentials_from_files(
        env.get("TRACKING_TLS_CA"), env.get("TRACKING_TLS_CERT"), env.get("TRACKING_TLS_KEY")
    )
    client = TrackingClient(
        env.get("TRACKING_ADDRESS") or DEFAULT_ADDRESS,
        credentials=credentials,
        token=env.get("TRACKING_TOKEN") or None,
    )
    return CurrentExecution(client, execution_id)


def _json_value(value: Any) -> struct_pb2.Value:
    holder = struct_pb2.Struct()
    holder.update({"v": value})
    return holder.fields["v"]
