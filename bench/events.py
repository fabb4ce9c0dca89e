"""E1 and E2: events out.

E1: from UpdateJobStatus being sent to its event arriving at a webhook receiver on
loopback, p50/p99 (the time includes the call's own commit, so it bounds commit-to-received
from above). E2: sustained deliveries per second to one webhook and to NATS JetStream, from
the first event to arrive to the last of a backlog written while the subscription was paused
(the time a resumed subscription takes to be picked up is left out).

The receiver is a minimal asyncio HTTP/1.1 server in this process: it answers 204 at once and
records when each webhook-id arrived.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from typing import Any

import grpc

from bench.harness import percentile
from tracking.v1 import subscription_pb2
from tracking.v1 import tracking_service_pb2 as pb
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

NATS_URL = "nats://127.0.0.1:4222"


class FastReceiver:
    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.changed = threading.Condition()
        self.loop = asyncio.new_event_loop()
        self.port = 0
        ready = threading.Event()

        async def serve() -> None:
            server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            await server.serve_forever()

        threading.Thread(target=lambda: self.loop.run_until_complete(serve()), daemon=True).start()
        ready.wait(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                headers = {}
                for line in head.decode("latin-1").split("\r\n")[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                await reader.readexactly(int(headers.get("content-length", "0")))
                writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                with self.changed:
                    self.arrivals.setdefault(headers.get("webhook-id", ""), time.perf_counter())
                    self.changed.notify_all()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    def wait_for(self, count: int, seconds: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: len(self.arrivals) >= count, seconds)


def _subscribe(stub: TrackingServiceStub, **target: Any) -> str:
    response = stub.CreateSubscription(
        pb.CreateSubscriptionRequest(
            subscription=subscription_pb2.Subscription(name="bench", **target)
        )
    )
    return str(response.subscription.subscription_id)


def _start(stub: TrackingServiceStub) -> str:
    execution_id = stub.CreateExecution(pb.CreateExecutionRequest()).execution.execution_id
    stub.UpdateJobStatus(
        pb.UpdateJobStatusRequest(execution_id=execution_id, start=pb.StartAction())
    )
    return str(execution_id)


def _progress(stub: TrackingServiceStub, execution_id: str, value: float) -> None:
    stub.UpdateJobStatus(
        pb.UpdateJobStatusRequest(
            execution_id=execution_id, progress=pb.ProgressAction(progress=value % 1)
        )
    )


def commit_to_webhook(address: str, quick: bool) -> dict[str, Any]:
    """E1."""
    samples = 50 if quick else 300
    receiver = FastReceiver()
    with grpc.insecure_channel(address) as channel:
        stub = TrackingServiceStub(channel)
        subscription_id = _subscribe(stub, webhook=subscription_pb2.WebhookTarget(url=receiver.url))
        execution_id = _start(stub)
        receiver.wait_for(2, 30)
        latencies = []
        for index in range(samples):
            before = len(receiver.arrivals)
            sent = time.perf_counter()
            _progress(stub, execution_id, index / samples)
            if not receiver.wait_for(before + 1, 30):
                return {"failed": f"event {index} did not arrive in 30 s"}
            latencies.append((max(receiver.arrivals.values()) - sent) * 1000)
            time.sleep(0.01)
        stub.DeleteSubscription(pb.DeleteSubscriptionRequest(subscription_id=subscription_id))
    return {
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "samples": samples,
    }


def _backlog(stub: TrackingServiceStub, executions: int, per_execution: int) -> int:
    ids = [_start(stub) for _ in range(executions)]
    for step in range(per_execution):
        for execution_id in ids:
            _progress(stub, execution_id, step / per_execution)
    return executions * per_execution


def webhook_throughput(address: str, quick: bool) -> dict[str, Any]:
    """E2 to one webhook."""
    executions, per_execution = (50, 20) if quick else (100, 50)
    receiver = FastReceiver()
    with grpc.insecure_channel(address) as channel:
        stub = TrackingServiceStub(channel)
        subscription_id = _subscribe(stub, webhook=subscription_pb2.WebhookTarget(url=receiver.url))
        stub.PauseSubscription(pb.PauseSubscriptionRequest(subscription_id=subscription_id))
        total = _backlog(stub, executions, per_execution) + 2 * executions
        stub.ResumeSubscription(pb.ResumeSubscriptionRequest(subscription_id=subscription_id))
        if not receiver.wait_for(total, 300):
            return {"failed": f"{len(receiver.arrivals)} of {total} arrived in 300 s"}
        stub.DeleteSubscription(pb.DeleteSubscriptionRequest(subscription_id=subscription_id))
    times = sorted(receiver.arrivals.values())
    return {"per_second": (len(times) - 1) / (times[-1] - times[0]), "events": len(times)}


async def _stream_messages(stream: str) -> int:
    import nats

    client = await nats.connect(NATS_URL, connect_timeout=2)
    try:
        return int((await client.jetstream().stream_info(stream)).state.messages)
    except Exception:
        return 0
    finally:
        await client.close()


async def _delete_stream(stream: str) -> None:
    import nats

    client = await nats.connect(NATS_URL, connect_timeout=2)
    try:
        await client.jetstream().delete_stream(stream)
    except Exception:
        pass
    finally:
        await client.close()


def nats_throughput(address: str, quick: bool) -> dict[str, Any]:
    """E2 to NATS JetStream: from the first message in the stream to the last."""
    from tracking.service.domain.subscriptions import stream_name

    executions, per_execution = (50, 20) if quick else (100, 50)
    subject = f"bench_{secrets.token_hex(4)}"
    stream = stream_name(subject)
    try:
        with grpc.insecure_channel(address) as channel:
            stub = TrackingServiceStub(channel)
            subscription_id = _subscribe(stub, nats=subscription_pb2.NatsTarget(subject=subject))
            stub.PauseSubscription(pb.PauseSubscriptionRequest(subscription_id=subscription_id))
            total = _backlog(stub, executions, per_execution) + 2 * executions
            stub.ResumeSubscription(pb.ResumeSubscriptionRequest(subscription_id=subscription_id))
            first = last = 0.0
            deadline = time.monotonic() + 300
            count = 0
            while count < total and time.monotonic() < deadline:
                count = asyncio.run(_stream_messages(stream))
                now = time.perf_counter()
                if count and not first:
                    first, first_count = now, count
                last = now
                time.sleep(0.02)
            stub.DeleteSubscription(pb.DeleteSubscriptionRequest(subscription_id=subscription_id))
        if count < total:
            return {"failed": f"{count} of {total} published in 300 s"}
        return {"per_second": (count - first_count) / (last - first), "events": count}
    finally:
        asyncio.run(_delete_stream(stream))


def events_out(address: str, quick: bool) -> dict[str, Any]:
    return {
        "E1 commit to webhook received": commit_to_webhook(address, quick),
        "E2 deliveries to one webhook": webhook_throughput(address, quick),
        "E2 deliveries to NATS JetStream": nats_throughput(address, quick),
    }
