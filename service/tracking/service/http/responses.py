"""Connect error bodies ({"code", "message", "details"}) with their HTTP status."""

from __future__ import annotations

from connectrpc._protocol import ConnectWireError
from starlette.responses import JSONResponse, Response

from tracking.service.http.connect import connect_error
from tracking.service.http.context import HttpAbort


def error_body(abort: HttpAbort) -> bytes:
    return ConnectWireError.from_exception(connect_error(abort)).to_json_bytes()


def error_response(abort: HttpAbort, headers: dict[str, str] | None = None) -> Response:
    wire = ConnectWireError.from_exception(connect_error(abort))
    return Response(
        wire.to_json_bytes(), wire.to_http_status().code, headers, media_type="application/json"
    )


def plain_error(status: int, code: str, message: str) -> Response:
    """An error of the HTTP side itself (no such path, a method it does not take)."""
    return JSONResponse({"code": code, "message": message}, status)
