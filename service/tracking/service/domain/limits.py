"""Limits that bound what one request may ask for."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    default_page_size: int = 50
    max_page_size: int = 1000
    max_log_batch: int = 5000
    max_log_line: int = 65536
    max_log_read: int = 10000
    max_tail: int = 100000
    max_message_bytes: int = 4 * 1024 * 1024
    # Steps, inputs, outputs, result, export paths and source views of one execution, as
    # JSON: what one response must still carry, far below the 4 MiB message limit.
    max_execution_documents: int = 1 << 20
    # The same budget for one deployment's mappings, pods, labels and texts.
    max_deployment_documents: int = 1 << 20
    # The heartbeat timeout of an execution that gives none (0: no lease).
    default_heartbeat_timeout_seconds: float = 600.0
    # Log batches read for streams at once: a storm of replays waits its turn instead of
    # starving plain calls.
    max_concurrent_log_reads: int = 4
    # Points one LogMetrics may carry, and executions one GetMetricHistory may compare.
    max_metric_batch: int = 1000
    max_metric_history_executions: int = 10
