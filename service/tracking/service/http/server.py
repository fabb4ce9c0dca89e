"""The HTTP side's ASGI application and its uvicorn server, in the gRPC server's loop.

/tracking.v1.TrackingService/<Method>   Connect: every unary RPC (and the streams)
/events/WatchStatus, /events/StreamLogs, /events/StreamMetrics   server-sent events
/auth/session                           the dashboard's sign-in cookie
/                                       the dashboard (static files)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from google.protobuf.descriptor_pb2 import MethodOptions
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from tracking.service.api.registration import SERVICE, Method
from tracking.service.http.connect import CONNECT_PREFIX, connect_app
from tracking.service.http.early_auth import EarlyAuth, Identify
from tracking.service.http.protocol import guarded_protocol
from tracking.service.http.responses import plain_error
from tracking.service.http.session import Session
from tracking.service.http.sse import SHAPES, SseEndpoint
from tracking.service.settings import Settings

DASHBOARD = Path(__file__).parent / "dashboard"
# What a page of the dashboard may load and call: its own origin only, no inline script.
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        b" connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]
# Room for the request line (a GET of a read carries its request in the query) on top of
# the headers' TRACKING_MAX_METADATA_BYTES; a longer head is refused as it arrives.
REQUEST_LINE_BYTES = 32768
UNARY_TYPES = frozenset({"application/json", "application/proto"})
# The Connect streaming form; the event streams are under /events/.
STREAM_TYPES = frozenset({"application/connect+json", "application/connect+proto"})


class ConnectGate:
    """Answers, before connectrpc does, what it would answer without a body: an unknown
    method, and a content type of another protocol (gRPC needs trailers HTTP/1.1 lacks)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.reads = {  # method name -> whether it answers GET (it has no side effects)
            m.name: m.GetOptions().idempotency_level == MethodOptions.NO_SIDE_EFFECTS
            for m in SERVICE.methods
        }
        self.streams = {m.name for m in SERVICE.methods if m.server_streaming}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = scope["path"].removeprefix(CONNECT_PREFIX)
        if name not in self.reads:
            response = plain_error(404, "unimplemented", f"no method {name!r} in this service")
            return await response(scope, receive, send)
        if scope["method"] != "POST" and not (scope["method"] == "GET" and self.reads[name]):
            allowed = "POST or GET" if self.reads[name] else "POST"
            response = plain_error(
                405, "invalid_argument", f"{name} takes {allowed}, not {scope['method']}"
            )
            return await response(scope, receive, send)
        refusal = self._encoding_refused(scope, name)
        if refusal:
            return await plain_error(415, "invalid_argument", refusal)(scope, receive, send)
        await self.app(scope, receive, send)

    def _encoding_refused(self, scope: Scope, name: str) -> str:
        """Why the request's encoding is not one this method takes ("" when it is)."""
        if scope["method"] == "GET":
            encoding = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("encoding")
            if encoding in (["json"], ["proto"]):
                return ""
            return "a GET needs encoding=json or encoding=proto, and message=<the request>"
        kinds = STREAM_TYPES if name in self.streams else UNARY_TYPES
        given = [v.decode("latin-1") for k, v in scope["headers"] if k == b"content-type"]
        if len(given) == 1 and given[0].split(";")[0].strip().lower() in kinds:
            return ""
        shown = ", ".join(repr(g) for g in given) or "none"
        return f"{name} takes content-type {' or '.join(sorted(kinds))}, not {shown}"


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


ROUTED = ("/events/", "/auth/session")


async def _not_found(request: Request, error: Exception) -> Response:
    status = error.status_code if isinstance(error, HTTPException) else 404
    path = request.url.path
    # The dashboard's files answer GET only; any other method there is a path that is not.
    if status == 405 and path.startswith(ROUTED):
        return plain_error(405, "invalid_argument", f"{request.method} is not served at {path}")
    return plain_error(404, "not_found", f"no such path: {path}")


def http_app(
    methods: Sequence[Method], settings: Settings, identify: Identify | None = None
) -> Starlette:
    by_name = {m.name: m for m in methods}
    streams = {name: SseEndpoint(by_name[name]) for name in SHAPES}

    async def events(request: Request) -> Response:
        endpoint = streams.get(request.path_params["method"])
        if endpoint is None:
            name = request.path_params["method"]
            return plain_error(404, "not_found", f"no stream {name!r}: {', '.join(SHAPES)}")
        return await endpoint(request)

    session = Session(
        by_name["GetServiceInfo"],
        auth_required=settings.auth_required,
        secure_cookie=bool(settings.tls_cert_file),
    )
    connect = ConnectGate(connect_app(methods, settings.max_message_bytes))
    middleware = [Middleware(SecurityHeaders)]
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST"],
                allow_headers=[
                    "authorization",
                    "content-type",
                    "connect-protocol-version",
                    "connect-timeout-ms",
                    "last-event-id",
                    "x-request-id",
                ],
                expose_headers=["x-request-id"],
            )
        )
    if identify is not None:  # inside CORS: a refusal carries its headers, a preflight passes
        middleware.append(
            Middleware(
                EarlyAuth,
                identify=identify,
                prefixes=(CONNECT_PREFIX, "/events/"),
                rpcs=frozenset(by_name),
            )
        )
    return Starlette(
        routes=[
            Mount(CONNECT_PREFIX.rstrip("/"), app=connect),
            Route("/events/{method}", events, methods=["GET"]),
            # A bound method: Starlette hands it a Request (an instance would be called as ASGI).
            Route("/auth/session", session.__call__, methods=["GET", "POST", "DELETE"]),
            Mount("/", app=StaticFiles(directory=DASHBOARD, html=True)),
        ],
        middleware=middleware,
        exception_handlers={HTTPException: _not_found},
    )


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the process's own serve() drains on SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(address: str, reuse_port: bool = False) -> socket.socket:
    """The listening socket; with `reuse_port`, one of several workers' (workers.py)."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: a response's head and body go out at once, instead of
    # the body waiting for the client's delayed acknowledgement of the head (40 ms a call).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, int(port)))
    except OSError as error:
        sock.close()
        raise OSError(f"cannot listen on {address} (HTTP): {error.strerror}") from None
    sock.set_inheritable(True)
    return sock


def client_certificates(settings: Settings) -> ssl.VerifyMode:
    """What the HTTP side asks of client certificates: as the gRPC side does."""
    if settings.tls_require_client_cert:
        return ssl.CERT_REQUIRED
    return ssl.CERT_OPTIONAL if settings.tls_client_ca_file else ssl.CERT_NONE


class HttpServer:
    """The HTTP side, started and stopped with the gRPC server."""

    def __init__(
        self,
        methods: Sequence[Method],
        settings: Settings,
        *,
        max_connections: int,
        reuse_port: bool = False,
        identify: Identify | None = None,
    ) -> None:
        self.socket = bind(settings.http_address, reuse_port)
        self.port: int = self.socket.getsockname()[1]
        config = uvicorn.Config(
            http_app(methods, settings, identify),
            http=guarded_protocol(
                max_connections=max_connections,
                request_timeout=settings.http_request_timeout_seconds,
                max_head_bytes=settings.max_metadata_bytes + REQUEST_LINE_BYTES,
            ),
            # asyncio accepts up to `backlog` connections at a time before any is refused
            # for the cap: fewer than the descriptors kept in reserve beyond it.
            backlog=128,
            lifespan="off",
            access_log=False,
            log_config=None,
            server_header=False,
            # The caller's address is the connection's peer, as on the gRPC side: rate and
            # failed-authentication limits count per address, and X-Forwarded-For is the
            # client's to write (uvicorn trusts it from loopback or FORWARDED_ALLOW_IPS).
            proxy_headers=False,
            timeout_graceful_shutdown=1,
            ssl_certfile=settings.tls_cert_file or None,
            ssl_keyfile=settings.tls_key_file or None,
            ssl_ca_certs=settings.tls_client_ca_file or None,
            ssl_cert_reqs=client_certificates(settings),
        )
        self._server = _Server(config)
        # Its start and stop lines repeat the server's own; its errors still show.
        logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(sockets=[self.socket]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task
        self.socket.close()
