"""The longest log line the server takes, so that `tracking run` cuts only what it must."""

from __future__ import annotations

from tracking.cli.runner.child import DEFAULT_MAX_LINE
from tracking.client import AsyncTrackingClient, RemoteException


async def server_line_limit(client: AsyncTrackingClient) -> int:
    """GetServiceInfo's max_log_line_chars; DEFAULT_MAX_LINE from a server that cannot say
    (an older one, or one that does not answer now)."""
    try:
        info = await client.service_info()
    except RemoteException:
        return DEFAULT_MAX_LINE
    return info.max_log_line_chars or DEFAULT_MAX_LINE
