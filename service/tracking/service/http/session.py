"""The dashboard's sign-in: `POST /auth/session {"token": …}` checks the token the way
every call is checked (it runs GetServiceInfo's composed behavior with it) and, if it is
good, sets it as an HttpOnly, SameSite=Strict cookie, which stands for the Authorization
header of the browser's later calls and EventSource streams. `GET` says who is signed in,
`DELETE` signs out."""

from __future__ import annotations

import json
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tracking.service.api.registration import Method
from tracking.service.auth import ANONYMOUS, current_principal
from tracking.service.http.context import (
    SESSION_COOKIE,
    HttpAbort,
    HttpCallContext,
    call_metadata,
    peer_of,
)
from tracking.service.http.responses import error_response, plain_error
from tracking.v1 import tracking_service_pb2 as pb

# A sign-in's body is {"token": "<token>"}: anyone may send one, so little of it is read.
SIGN_IN_BYTES = 4096


class Session:
    def __init__(self, probe: Method, *, auth_required: bool, secure_cookie: bool) -> None:
        self.probe = probe  # GetServiceInfo: any valid token may call it
        self.auth_required = auth_required
        self.secure_cookie = secure_cookie

    async def __call__(self, http: Request) -> Response:
        if http.method == "DELETE":
            response = JSONResponse({"signed_in": False, "auth_required": self.auth_required})
            response.delete_cookie(SESSION_COOKIE, path="/", samesite="strict", httponly=True)
            return response
        if http.method == "POST":
            # Only a JSON body: the types a cross-site form sends without a preflight
            # (text/plain and the form encodings) could sign the browser in as the form's
            # author, since a top-level navigation may set even a SameSite=Strict cookie.
            content_type = http.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type != "application/json":
                return plain_error(
                    415,
                    "invalid_argument",
                    f"content-type {content_type or '(none)'!r} is not served here: send"
                    ' application/json {"token": "<token>"}',
                )
            body = await _body_within(http, SIGN_IN_BYTES)
            if body is None:
                return JSONResponse(
                    {
                        "code": "resource_exhausted",
                        "message": f"a sign-in is at most {SIGN_IN_BYTES} bytes:"
                        ' {"token": "<token>"}',
                    },
                    413,
                    headers={"connection": "close"},  # the rest of the body is not read
                )
            token = _token_of(body)
            if token is None:
                return JSONResponse(
                    {"code": "invalid_argument", "message": 'send {"token": "<token>"}'},
                    400,
                )
            metadata = [("authorization", f"Bearer {token}")]
        else:
            metadata = call_metadata(http.headers.items(), dict(http.cookies))
            if self.auth_required and not any(k == "authorization" for k, _ in metadata):
                return JSONResponse({"signed_in": False, "auth_required": True})
        client = http.client
        context = HttpCallContext(metadata, peer_of(client and (client.host, client.port)))
        current_principal.set(ANONYMOUS)
        try:
            await self.probe.unary(pb.GetServiceInfoRequest(), cast(Any, context))
        except HttpAbort as abort:
            refused = error_response(abort, {})
            if http.method == "GET":
                refused.delete_cookie(SESSION_COOKIE, path="/", samesite="strict", httponly=True)
            return refused
        principal = current_principal.get()
        response = JSONResponse(
            {
                "signed_in": self.auth_required,
                "auth_required": self.auth_required,
                "name": principal.name,
                "role": principal.role.name.lower(),
            }
        )
        if http.method == "POST" and self.auth_required:
            response.set_cookie(
                SESSION_COOKIE,
                token or "",
                path="/",
                httponly=True,
                samesite="strict",
                secure=self.secure_cookie,
            )
        return response


async def _body_within(http: Request, limit: int) -> bytes | None:
    """The request's body, or None as soon as it is longer than `limit` (no more is read)."""
    declared = http.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    body = b""
    async for chunk in http.stream():
        body += chunk
        if len(body) > limit:
            return None
    return body


def _token_of(body: bytes) -> str | None:
    try:
        document = json.loads(body or b"null")
    except ValueError:
        return None
    token = document.get("token") if isinstance(document, dict) else None
    return token.strip() if isinstance(token, str) and token.strip() else None
