"""GetServiceInfo: what this server accepts, so clients need not hard-code its limits."""

from __future__ import annotations

import functools
from importlib import metadata

from google.protobuf.duration_pb2 import Duration

from tracking.service.api.context import Context
from tracking.service.domain.limits import Limits
from tracking.v1 import tracking_service_pb2 as pb

INT32_MAX = 2**31 - 1


def _int32(value: int) -> int:
    # The settings have no upper bound; the message's fields are int32.
    return min(value, INT32_MAX)


@functools.cache
def package_version() -> str:
    return metadata.version("tracking")


class ServiceInfoApi:
    limits: Limits

    async def GetServiceInfo(
        self, request: pb.GetServiceInfoRequest, context: Context
    ) -> pb.GetServiceInfoResponse:
        heartbeat_timeout = Duration()
        heartbeat_timeout.FromNanoseconds(
            round(self.limits.default_heartbeat_timeout_seconds * 1_000_000_000)
        )
        return pb.GetServiceInfoResponse(
            version=package_version(),
            max_log_line_chars=_int32(self.limits.max_log_line),
            max_log_batch_lines=_int32(self.limits.max_log_batch),
            max_message_bytes=_int32(self.limits.max_message_bytes),
            default_heartbeat_timeout=heartbeat_timeout,
            max_metric_batch_points=_int32(self.limits.max_metric_batch),
            max_metric_history_executions=_int32(self.limits.max_metric_history_executions),
        )
