"""`serve --workers N`: N server processes sharing one port (SO_REUSEPORT), on PostgreSQL.

The parent reserves the ports (a bound socket with SO_REUSEPORT that never listens, so
port 0 resolves once for every worker), then forks the workers before any of them starts
gRPC, as gRPC's own multiprocessing example does. Each worker is a whole server (its own
event loop, hub and connections) that binds the ports with SO_REUSEPORT; the kernel
spreads new connections across them. Workers see each other's changes the way replicas
do, through PostgreSQL's LISTEN/NOTIFY (events/postgres.py). SIGTERM or SIGINT to the
parent is passed to every worker, and each drains as a single server does; if one worker
dies, the parent stops the others and exits non-zero, for its supervisor to restart.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event
from types import FrameType

from tracking.service import ports
from tracking.service.settings import Settings

log = logging.getLogger("tracking")
# How long a worker may take to migrate, connect and bind before the parent gives up.
START_SECONDS = 60.0
PR_SET_PDEATHSIG = 1


def refusal(settings: Settings, workers: int) -> str | None:
    """Why these settings cannot run `workers` processes (None: they can)."""
    if workers < 1:
        return "--workers must be 1 or more"
    if workers == 1:
        return None
    if not settings.database_url.startswith("postgresql"):
        return (
            f"--workers {workers} needs PostgreSQL: SQLite takes one writer at a time and"
            " processes would not hear of each other's changes (run one worker on SQLite)"
        )
    if settings.metrics_address:
        return (
            f"--workers {workers} with --metrics-address: each worker counts its own calls and"
            " one port cannot serve them all; leave the metrics address empty"
        )
    return None


@contextmanager
def reserved(address: str, side: str) -> Iterator[str]:
    """host:port with the port fixed (port 0 picks one), held for as long as the workers run:
    a bound socket with SO_REUSEPORT that does not listen, so it takes no connections. An
    address another server holds is refused (ports.py): SO_REUSEPORT is shared only among
    this server's workers."""
    ports.check_free(address, side)
    host, _, port = address.rpartition(":")
    bare = host.strip("[]") or "0.0.0.0"
    family = socket.AF_INET6 if ":" in bare else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            sock.bind((bare, int(port)))
        except OSError as error:
            raise ports.cannot_listen(address, side, error) from None
        yield f"{host}:{sock.getsockname()[1]}"


def _drain_when_orphaned(parent: int) -> None:
    """SIGTERM this worker when its parent dies (even by SIGKILL), so no worker keeps
    serving the port without a parent to stop it (Linux's PR_SET_PDEATHSIG)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request was made
        os.kill(os.getpid(), signal.SIGTERM)


def _worker(settings: Settings, ready: Event, parent: int) -> None:
    from tracking.service.app import serve

    # The parent passes SIGTERM on; a Ctrl-C reaches the whole process group at once.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    _drain_when_orphaned(parent)
    asyncio.run(serve(settings, reuse_port=True, on_ready=ready.set))


def run(settings: Settings, workers: int) -> int:
    """Run `workers` servers on the settings' ports until SIGTERM or SIGINT; the exit code."""
    with reserved(settings.address, "gRPC") as address:
        if settings.http_address:
            with reserved(settings.http_address, "HTTP") as http_address:
                shared = settings.model_copy(
                    update={"address": address, "http_address": http_address}
                )
                return _supervise(shared, workers)
        return _supervise(settings.model_copy(update={"address": address}), workers)


def _supervise(settings: Settings, workers: int) -> int:
    context = multiprocessing.get_context("fork")
    readies = [context.Event() for _ in range(workers)]
    processes = [
        context.Process(
            target=_worker, args=(settings, ready, os.getpid()), name=f"tracking-worker-{i}"
        )
        for i, ready in enumerate(readies)
    ]
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for process in processes:
            if process.pid is not None and process.exitcode is None:
                os.kill(process.pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for process in processes:
            process.start()
        if not _wait_ready(processes, readies):
            stop(signal.SIGTERM, None)
        elif not stopping:
            if settings.http_address:
                scheme = "https" if settings.tls_cert_file else "http"
                log.info("HTTP and dashboard on %s://%s/", scheme, settings.http_address)
            log.info(
                "tracking serving on %s (%d workers, pids %s)",
                settings.address,
                workers,
                " ".join(str(p.pid) for p in processes),
            )
        failed = False
        while any(p.exitcode is None for p in processes):
            for process in processes:
                process.join(0.2)
                if process.exitcode is not None and process.exitcode != 0 and not stopping:
                    log.error(
                        "worker %d exited with %d: stopping the others",
                        process.pid,
                        process.exitcode,
                    )
                    failed = True
                    stop(signal.SIGTERM, None)
        if not failed and all(p.exitcode == 0 for p in processes):
            log.info("all %d workers stopped", workers)
            return 0
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _wait_ready(processes: Sequence[BaseProcess], readies: Sequence[Event]) -> bool:
    deadline = time.monotonic() + START_SECONDS
    while not all(ready.is_set() for ready in readies):
        if any(p.exitcode is not None for p in processes):
            log.error("a worker exited while starting")
            return False
        if time.monotonic() > deadline:
            log.error("the workers did not start within %.0f s", START_SECONDS)
            return False
        time.sleep(0.05)
    return True
