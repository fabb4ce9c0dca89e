"""The drain: once the server is asked to stop, calls in flight run to their end and new
ones are refused with UNAVAILABLE (which clients retry, elsewhere if they can).

gRPC's own `server.stop(grace)` stops accepting calls at once (health probes included) and
cancels calls in flight: a write it cancels is lost without its caller knowing whether it
was stored. So the server keeps its port open while it drains: health answers NOT_SERVING,
the wrapper below refuses new calls, and `server.stop` comes only once the calls it let in
have ended (or the grace period has passed).
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc

from tracking.service.wrapping import CallFacts, Context, Stage, WrappingInterceptor

REFUSAL = "the server is shutting down: retry (another replica will answer, if there is one)"
# Calls gRPC has taken in but not yet handed to a handler are cancelled by `server.stop`:
# the port stays open until no call has arrived for this long, so that they are refused
# with UNAVAILABLE instead.
QUIET_SECONDS = 0.25


class DrainInterceptor(WrappingInterceptor):
    """Counts unary calls in flight; once draining, refuses every new call."""

    def __init__(self) -> None:
        self.draining = False
        self.in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._last_arrival = 0.0

    def start_draining(self) -> None:
        self.draining = True

    async def wait_until_quiet(self, seconds: float) -> bool:
        """Wait until no call is in flight and none has arrived for QUIET_SECONDS; False if
        that did not happen within `seconds`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            try:
                await asyncio.wait_for(self._idle.wait(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                return False
            calm_for = loop.time() - self._last_arrival
            if calm_for >= QUIET_SECONDS:
                return True
            if loop.time() + QUIET_SECONDS - calm_for > deadline:
                return False
            await asyncio.sleep(QUIET_SECONDS - calm_for)

    def _arrived(self) -> None:
        self._last_arrival = asyncio.get_running_loop().time()

    def _enter(self) -> None:
        self.in_flight += 1
        self._idle.clear()

    def _leave(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self._idle.set()

    def unary_stage(self, method: str) -> Stage:
        async def open_call(request: Any, context: Context, facts: CallFacts) -> bool:
            self._arrived()
            if self.draining:
                await context.abort(grpc.StatusCode.UNAVAILABLE, REFUSAL)
            self._enter()
            return True

        def close(entered: bool | None, context: Context, error: BaseException | None) -> None:
            if entered:
                self._leave()

        return Stage(open_call, close=close)

    def stream_stage(self, method: str) -> Stage:
        # Streams are not waited for: the hub ends them with UNAVAILABLE, and their clients
        # resume from their cursor.
        async def open_stream(request: Any, context: Context, facts: CallFacts) -> None:
            self._arrived()
            if self.draining:
                await context.abort(grpc.StatusCode.UNAVAILABLE, REFUSAL)

        return Stage(open_stream)
