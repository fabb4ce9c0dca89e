"""The span processor of tracing.py: a call never waits for the exporter."""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Mapping

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

log = logging.getLogger(__name__)


class SpanQueue(SpanProcessor):
    """A span processor that never makes a call wait: finished spans are queued (up to
    OTEL_BSP_MAX_QUEUE_SIZE) and a thread exports them in batches of up to
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE, every OTEL_BSP_SCHEDULE_DELAY milliseconds or as soon as
    a batch is full. Spans that find the queue full, or that the exporter failed to take,
    are dropped and counted."""

    def __init__(self, exporter: SpanExporter, environ: Mapping[str, str]) -> None:
        self.exporter = exporter
        self.max_queue = int(environ.get("OTEL_BSP_MAX_QUEUE_SIZE", "2048"))
        self.batch_size = int(environ.get("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "512"))
        self.delay_seconds = int(environ.get("OTEL_BSP_SCHEDULE_DELAY", "5000")) / 1000
        self._queue: collections.deque[ReadableSpan] = collections.deque()
        self._wake = threading.Event()
        self._stopping = False
        # Each counter is written by one thread only: the queue's on the event loop, the
        # exports' on the exporting thread.
        self.dropped_full = 0
        self.dropped_failed = 0
        self.exported = 0
        self._thread = threading.Thread(target=self._run, name="span-export", daemon=True)
        self._thread.start()

    @property
    def dropped(self) -> int:
        return self.dropped_full + self.dropped_failed

    def on_end(self, span: ReadableSpan) -> None:
        if len(self._queue) >= self.max_queue:
            self.dropped_full += 1
            return
        self._queue.append(span)
        if len(self._queue) >= self.batch_size:
            self._wake.set()

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(self.delay_seconds)
            self._wake.clear()
            self._export_queued()
        self._export_queued()

    def _export_queued(self) -> None:
        while self._queue:
            batch = [self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))]
            try:
                result = self.exporter.export(batch)
            except Exception:
                log.exception("exporting %d spans failed", len(batch))
                result = SpanExportResult.FAILURE
            if result is SpanExportResult.SUCCESS:
                self.exported += len(batch)
            else:
                self.dropped_failed += len(batch)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        self._wake.set()
        return True

    def shutdown(self, timeout_seconds: float = 5.0) -> None:
        """Export what is queued, waiting at most `timeout_seconds` (an exporter that is down
        does not hold the server's stop)."""
        if self._stopping:
            return  # the provider's shutdown, and its own at exit, come here again
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout_seconds)
        if not self._thread.is_alive():
            self.exporter.shutdown()
