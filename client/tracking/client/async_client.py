"""Asyncio client of TrackingService, on grpc.aio."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar, Unpack, cast

import grpc
from google.protobuf import struct_pb2
from google.protobuf.message import Message

from tracking.v1 import (
    auth_pb2,
    deployment_pb2,
    execution_pb2,
    io_pb2,
    metric_pb2,
    status_pb2,
    subscription_pb2,
    tracking_service_pb2_grpc,
)
from tracking.v1 import tracking_service_pb2 as pb

from . import methods as m
from . import requests as rq
from . import resume as rs
from .convert import EnumArg
from .errors import from_rpc_error
from .retry import DEFAULT_RETRY, NO_RETRY, RetryPolicy, async_call_with_retry

Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)
Item = TypeVar("Item")


class AsyncTrackingClient:
    """Client of TrackingService. Close it, or use it in a `with` (`async with`).

    TrackingClient blocks and is thread-safe. AsyncTrackingClient offers the same methods as
    coroutines and its streams as async iterators; create it inside a running event loop.

    Unary calls have a deadline of `timeout` seconds (None: none), per attempt; reads and
    create_execution are retried on UNAVAILABLE as `retry` says. Streams have no deadline
    unless given one. Failures raise a RemoteException subclass.

    Each client has an HTTP/2 connection of its own (gRPC Python would otherwise share one
    between all channels to the same address). Its streams share it, up to the streams per
    connection the server or a proxy allows (the server and deploy/nginx: 1,000; nginx's
    default: 128, past which new streams wait without an error): hold more through several
    clients.

    `watch_status` and `stream_logs` yield the raw responses of one call; `watch` and
    `follow_logs` yield events and log lines and reconnect by themselves after UNAVAILABLE
    or RESOURCE_EXHAUSTED, with the backoff of `retry` (see tracking.client.resume; the
    asyncio client awaits the RetryPolicy's `async_sleep`).
    """

    def __init__(
        self,
        address: str = m.DEFAULT_ADDRESS,
        *,
        timeout: float | None = 10.0,
        credentials: grpc.ChannelCredentials | None = None,
        token: str | None = None,
        options: Sequence[tuple[str, Any]] = (),
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        options = m.channel_options(options)
        if credentials is not None:
            channel = grpc.aio.secure_channel(address, credentials, options=options)
        else:
            channel = grpc.aio.insecure_channel(address, options=options)
        self._setup(channel, timeout, token, retry, owns_channel=True)

    @classmethod
    def from_channel(
        cls,
        channel: grpc.aio.Channel,
        *,
        timeout: float | None = 10.0,
        token: str | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> Self:
        """A client on an existing channel, which close() leaves open."""
        client = cls.__new__(cls)
        client._setup(channel, timeout, token, retry, owns_channel=False)
        return client

    def _setup(
        self,
        channel: grpc.aio.Channel,
        timeout: float | None,
        token: str | None,
        retry: RetryPolicy,
        *,
        owns_channel: bool,
    ) -> None:
        self._channel = channel
        self._owns_channel = owns_channel
        self._stub = tracking_service_pb2_grpc.TrackingServiceStub(channel)
        self._timeout = timeout
        self._token = token
        # A process started inside a trace (tracking run's command, a CI job) finds its
        # context in TRACEPARENT, the environment's carrier of W3C trace context.
        self._metadata = m.call_metadata(token, os.environ.get("TRACEPARENT"))
        self._retry = retry

    def join_trace(self, traceparent: str) -> None:
        """Send `traceparent` (a W3C trace context) with every call from now on, so that the
        server's spans of these calls join that trace; "" sends none."""
        self._metadata = m.call_metadata(self._token, traceparent)

    async def close(self) -> None:
        """Close the channel (unless it was given to from_channel)."""
        if self._owns_channel:
            await self._channel.close(None)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _unary(self, method: m.Method[Req, Resp], request: Req) -> Resp:
        rpc = getattr(self._stub, method.name)

        async def attempt() -> Resp:
            return cast(Resp, await rpc(request, timeout=self._timeout, metadata=self._metadata))

        try:
            return await async_call_with_retry(
                attempt, self._retry if method.retryable else NO_RETRY
            )
        except grpc.RpcError as err:
            raise from_rpc_error(err) from err

    async def _stream(
        self, method: m.Method[Req, Resp], request: Req, deadline: float | None
    ) -> AsyncGenerator[Resp, None]:
        rpc = getattr(self._stub, method.name)
        call = rpc(request, timeout=deadline, metadata=self._metadata)
        try:
            async for response in call:
                yield cast(Resp, response)
        except grpc.RpcError as err:
            raise from_rpc_error(err) from err
        finally:
            call.cancel()  # no-op once finished; frees the stream if the caller stops early

    async def _resuming(
        self, stream: rs.ResumableStream[Req, Resp, Item], deadline: float | None
    ) -> AsyncGenerator[Item, None]:
        rpc = getattr(self._stub, stream.method.name)
        reconnects = rs.Reconnects(self._retry, deadline)
        while True:
            call = rpc(stream.request(), timeout=reconnects.remaining(), metadata=self._metadata)
            try:
                async for response in call:
                    reconnects.progressed()
                    for item in stream.accept(cast(Resp, response)):
                        yield item
                return
            except grpc.RpcError as err:
                if stream.done:
                    return  # the server was ending the stream anyway: nothing is missing
                delay = reconnects.delay_after(err, stream)
            finally:
                call.cancel()  # no-op once finished; frees the stream if the caller stops early
            await self._retry.async_sleep(delay)

    # Deployments

    async def create_deployment(
        self,
        name: str,
        pipeline_name: str,
        execution_rule: EnumArg,
        **fields: Unpack[rq.DeploymentFields],
    ) -> deployment_pb2.Deployment:
        """Create a deployment (enabled unless is_enabled=False)."""
        request = rq.create_deployment(name, pipeline_name, execution_rule, **fields)
        return (await self._unary(m.CREATE_DEPLOYMENT, request)).deployment

    async def get_deployment(self, name: str) -> deployment_pb2.Deployment:
        """Return one deployment."""
        return (await self._unary(m.GET_DEPLOYMENT, rq.get_deployment(name))).deployment

    async def list_deployments_page(
        self, *, filter: str = "", page_size: int = 0, page_token: str = ""
    ) -> tuple[list[deployment_pb2.Deployment], str]:
        """Return one page of deployments and the next page's token ("" after the last)."""
        request = rq.list_deployments(filter=filter, page_size=page_size, page_token=page_token)
        response = await self._unary(m.LIST_DEPLOYMENTS, request)
        return list(response.deployments), response.next_page_token

    async def list_deployments(
        self, *, filter: str = "", page_size: int = 0
    ) -> AsyncIterator[deployment_pb2.Deployment]:
        """Iterate over every deployment matching `filter`, fetching pages as needed."""
        token = ""
        while True:
            items, token = await self.list_deployments_page(
                filter=filter, page_size=page_size, page_token=token
            )
            for item in items:
                yield item
            if not token:
                return

    async def update_deployment(
        self, name: str, **changes: Unpack[rq.DeploymentUpdate]
    ) -> deployment_pb2.Deployment:
        """Change the fields given as keyword arguments, and only those."""
        return (
            await self._unary(m.UPDATE_DEPLOYMENT, rq.update_deployment(name, **changes))
        ).deployment

    async def delete_deployment(self, name: str) -> pb.DeleteDeploymentResponse:
        """Delete a deployment with its executions."""
        return await self._unary(m.DELETE_DEPLOYMENT, rq.delete_deployment(name))

    # Executions

    async def create_execution(
        self, **fields: Unpack[rq.ExecutionFields]
    ) -> execution_pb2.Execution:
        """Create an execution in WAITING; safe to retry thanks to `request_id`
        (the fields: requests.ExecutionFields)."""
        request = rq.create_execution(**fields)
        return (await self._unary(m.CREATE_EXECUTION, request)).execution

    async def get_execution(self, execution_id: str) -> execution_pb2.Execution:
        """Return one execution."""
        return (await self._unary(m.GET_EXECUTION, rq.get_execution(execution_id))).execution

    async def list_executions_page(
        self, *, filter: str = "", page_size: int = 0, page_token: str = ""
    ) -> tuple[list[execution_pb2.Execution], str]:
        """Return one page of executions and the next page's token ("" after the last)."""
        request = rq.list_executions(filter=filter, page_size=page_size, page_token=page_token)
        response = await self._unary(m.LIST_EXECUTIONS, request)
        return list(response.executions), response.next_page_token

    async def list_executions(
        self, *, filter: str = "", page_size: int = 0
    ) -> AsyncIterator[execution_pb2.Execution]:
        """Iterate over every execution matching `filter`, newest first."""
        token = ""
        while True:
            items, token = await self.list_executions_page(
                filter=filter, page_size=page_size, page_token=token
            )
            for item in items:
                yield item
            if not token:
                return

    async def delete_execution(self, execution_id: str) -> pb.DeleteExecutionResponse:
        """Delete an execution and its logs."""
        return await self._unary(m.DELETE_EXECUTION, rq.delete_execution(execution_id))

    async def get_execution_input(
        self, execution_id: str, input_name: str
    ) -> io_pb2.ExecutionInput:
        """Return one input of an execution."""
        request = rq.get_execution_input(execution_id, input_name)
        return (await self._unary(m.GET_EXECUTION_INPUT, request)).input

    async def get_execution_output(
        self, execution_id: str, output_name: str
    ) -> io_pb2.ExecutionOutput:
        """Return one output of an execution."""
        request = rq.get_execution_output(execution_id, output_name)
        return (await self._unary(m.GET_EXECUTION_OUTPUT, request)).output

    # Status

    async def get_job_status(self, execution_id: str) -> status_pb2.JobStatus:
        """Return where an execution stands."""
        return (await self._unary(m.GET_JOB_STATUS, rq.get_job_status(execution_id))).job_status

    async def start(
        self,
        execution_id: str,
        *,
        phase: str = "",
        heartbeat_timeout: float | None = None,
        expected_revision: int | None = None,
    ) -> status_pb2.JobStatus:
        """WAITING (or UNKNOWN) -> RUNNING; `heartbeat_timeout` (seconds) replaces the
        execution's when given."""
        request = rq.start(
            execution_id,
            phase=phase,
            heartbeat_timeout=heartbeat_timeout,
            expected_revision=expected_revision,
        )
        return (await self._unary(m.UPDATE_JOB_STATUS, request)).job_status

    async def heartbeat(self, execution_id: str) -> status_pb2.JobStatus:
        """Renew the lease of a running execution (and bring one marked UNKNOWN back)."""
        return (await self._unary(m.UPDATE_JOB_STATUS, rq.heartbeat(execution_id))).job_status

    async def update_progress(
        self,
        execution_id: str,
        progress: float,
        *,
        phase: str = "",
        expected_revision: int | None = None,
    ) -> status_pb2.JobStatus:
        """Report progress (0 to 1) and, if not empty, the phase."""
        request = rq.update_progress(
            execution_id, progress, phase=phase, expected_revision=expected_revision
        )
        return (await self._unary(m.UPDATE_JOB_STATUS, request)).job_status

    async def suspend(
        self, execution_id: str, *, reason: str = "", expected_revision: int | None = None
    ) -> status_pb2.JobStatus:
        """RUNNING -> SUSPENDED."""
        request = rq.suspend(execution_id, reason=reason, expected_revision=expected_revision)
        return (await self._unary(m.UPDATE_JOB_STATUS, request)).job_status

    async def resume(
        self, execution_id: str, *, expected_revision: int | None = None
    ) -> status_pb2.JobStatus:
        """SUSPENDED -> RUNNING."""
        request = rq.resume(execution_id, expected_revision=expected_revision)
        return (await self._unary(m.UPDATE_JOB_STATUS, request)).job_status

    async def stop(
        self,
        execution_id: str,
        cause: EnumArg = status_pb2.RUNNING_STATUS_SUCCESS,
        message: str = "",
        *,
        expected_revision: int | None = None,
    ) -> status_pb2.JobStatus:
        """End the job with `cause`: SUCCESS, ERROR, CANCELED or UNKNOWN."""
        request = rq.stop(execution_id, cause, message, expected_revision=expected_revision)
        return (await self._unary(m.UPDATE_JOB_STATUS, request)).job_status

    async def set_times(
        self,
        execution_id: str,
        *,
        create_time: dt.datetime | None = None,
        start_time: dt.datetime | None = None,
        duration: dt.timedelta | None = None,
        expected_revision: int | None = None,
    ) -> status_pb2.JobStatus:
        """Report times the platform measured, in any status; only those given change.

        A duration is shown as JobStatus.duration from then on (an ended job ends at
        start_time + duration). Times out of order raise InvalidArgument naming the field.
        """
        request = rq.set_times(
            execution_id,
            create_time=create_time,
            start_time=start_time,
            duration=duration,
            expected_revision=expected_revision,
        )
        return (await self._unary(m.UPDATE_JOB_STATUS, request)).job_status

    async def cancel_execution(
        self, execution_id: str, *, reason: str = ""
    ) -> status_pb2.JobStatus:
        """Cancel an execution, at once or by asking its worker."""
        request = rq.cancel_execution(execution_id, reason=reason)
        return (await self._unary(m.CANCEL_EXECUTION, request)).job_status

    # Outputs, steps, logs

    async def set_execution_outputs(
        self,
        execution_id: str,
        *,
        outputs: Iterable[io_pb2.ExecutionOutput] = (),
        result: rq.JsonObject | struct_pb2.Struct | None = None,
        export_paths: Mapping[str, str] | None = None,
        source_views: Mapping[str, str] | None = None,
    ) -> execution_pb2.Execution:
        """Merge outputs, export paths and source views; replace the result if given."""
        request = rq.set_execution_outputs(
            execution_id,
            outputs=outputs,
            result=result,
            export_paths=export_paths,
            source_views=source_views,
        )
        return (await self._unary(m.SET_EXECUTION_OUTPUTS, request)).execution

    async def update_step(self, execution_id: str, step: execution_pb2.Step) -> execution_pb2.Step:
        """Add a step, or replace the step of the same name."""
        return (await self._unary(m.UPDATE_STEP, rq.update_step(execution_id, step))).step

    async def append_logs(
        self, execution_id: str, entries: Iterable[execution_pb2.LogEntry | str]
    ) -> int:
        """Append log lines (a str is a STDOUT line); return the last seq."""
        return (await self._unary(m.APPEND_LOGS, rq.append_logs(execution_id, entries))).last_seq

    async def get_execution_logs(
        self,
        execution_id: str,
        *,
        from_time: dt.datetime | None = None,
        to_time: dt.datetime | None = None,
        limit: int = 0,
        stream: EnumArg = execution_pb2.LOG_STREAM_UNSPECIFIED,
        after_seq: int = 0,
        contains: str = "",
        pattern: str = "",
    ) -> list[execution_pb2.LogEntry]:
        """Return stored log lines, oldest first; `contains` (a substring) and `pattern` (an
        RE2 regular expression) keep only the lines that match, on the server."""
        request = rq.get_execution_logs(
            execution_id,
            from_time=from_time,
            to_time=to_time,
            limit=limit,
            stream=stream,
            after_seq=after_seq,
            contains=contains,
            pattern=pattern,
        )
        return list((await self._unary(m.GET_EXECUTION_LOGS, request)).entries)

    # Metrics

    async def log_metrics(self, execution_id: str, points: Iterable[rq.MetricArg]) -> int:
        """Append metric points, each a MetricPoint (see requests.metric_point) or a
        (name, value) or (name, value, step) tuple; stored whole or not at all. Returns
        the seq of the last one."""
        request = rq.log_metrics(execution_id, points)
        return (await self._unary(m.LOG_METRICS, request)).last_seq

    async def list_metrics(self, execution_id: str) -> pb.ListMetricsResponse:
        """Each metric series of an execution with its count, steps, last, min and max."""
        return await self._unary(m.LIST_METRICS, pb.ListMetricsRequest(execution_id=execution_id))

    async def get_metric_history(
        self,
        execution_ids: str | Iterable[str],
        name: str,
        *,
        start_step: int | None = None,
        end_step: int | None = None,
        max_points: int = 1000,
        exact: bool = False,
        page_token: str = "",
    ) -> pb.GetMetricHistoryResponse:
        """The history of one series in one or several executions: its points, or, when
        there are more than `max_points`, buckets with min, max, last value and count;
        with `exact`, the points a page at a time (follow next_page_token)."""
        request = rq.get_metric_history(
            execution_ids,
            name,
            start_step=start_step,
            end_step=end_step,
            max_points=max_points,
            exact=exact,
            page_token=page_token,
        )
        return await self._unary(m.GET_METRIC_HISTORY, request)

    # Service

    async def service_info(self) -> pb.GetServiceInfoResponse:
        """The server's version and limits, and the lease it gives executions by default."""
        return await self._unary(m.GET_SERVICE_INFO, pb.GetServiceInfoRequest())

    # Tokens (admin)

    async def create_token(self, name: str, role: EnumArg) -> pb.CreateTokenResponse:
        """Create a bearer token; the response's `secret` is shown only this once."""
        return await self._unary(m.CREATE_TOKEN, rq.create_token(name, role))

    async def list_tokens(self, *, include_revoked: bool = False) -> list[auth_pb2.ApiToken]:
        """List tokens, newest first (never their secrets)."""
        response = await self._unary(m.LIST_TOKENS, rq.list_tokens(include_revoked))
        return list(response.tokens)

    async def revoke_token(self, token_id: str) -> auth_pb2.ApiToken:
        """Revoke a token: refused at once, its open streams end within a minute."""
        response = await self._unary(m.REVOKE_TOKEN, rq.revoke_token(token_id))
        return response.token

    # Subscriptions (admin)

    async def create_subscription(
        self,
        name: str,
        *,
        webhook: str = "",
        nats: str | None = None,
        deployments: Iterable[str] = (),
        kinds: Iterable[EnumArg] = (),
        statuses: Iterable[EnumArg] = (),
        request_id: str = "",
    ) -> pb.CreateSubscriptionResponse:
        """Subscribe a webhook URL or a NATS subject prefix to the events (docs/events.md);
        a webhook's signing secret is in the response only this once."""
        request = rq.create_subscription(
            name,
            webhook=webhook,
            nats=nats,
            deployments=deployments,
            kinds=kinds,
            statuses=statuses,
            request_id=request_id,
        )
        return await self._unary(m.CREATE_SUBSCRIPTION, request)

    async def get_subscription(self, subscription_id: str) -> subscription_pb2.Subscription:
        request = pb.GetSubscriptionRequest(subscription_id=subscription_id)
        return (await self._unary(m.GET_SUBSCRIPTION, request)).subscription

    async def list_subscriptions(self) -> list[subscription_pb2.Subscription]:
        response = await self._unary(m.LIST_SUBSCRIPTIONS, pb.ListSubscriptionsRequest())
        return list(response.subscriptions)

    async def delete_subscription(self, subscription_id: str) -> pb.DeleteSubscriptionResponse:
        request = pb.DeleteSubscriptionRequest(subscription_id=subscription_id)
        return await self._unary(m.DELETE_SUBSCRIPTION, request)

    async def pause_subscription(self, subscription_id: str) -> subscription_pb2.Subscription:
        request = pb.PauseSubscriptionRequest(subscription_id=subscription_id)
        return (await self._unary(m.PAUSE_SUBSCRIPTION, request)).subscription

    async def resume_subscription(self, subscription_id: str) -> subscription_pb2.Subscription:
        request = pb.ResumeSubscriptionRequest(subscription_id=subscription_id)
        return (await self._unary(m.RESUME_SUBSCRIPTION, request)).subscription

    async def list_deliveries(
        self, subscription_id: str, *, page_size: int = 0
    ) -> list[subscription_pb2.Delivery]:
        """The last delivery attempts of a subscription, newest first."""
        request = pb.ListDeliveriesRequest(subscription_id=subscription_id, page_size=page_size)
        return list((await self._unary(m.LIST_DELIVERIES, request)).deliveries)

    async def test_subscription(self, subscription_id: str) -> subscription_pb2.Delivery:
        """Send one test event to the subscription's target now."""
        request = pb.TestSubscriptionRequest(subscription_id=subscription_id)
        return (await self._unary(m.TEST_SUBSCRIPTION, request)).delivery

    # Streams

    def watch_status(
        self,
        *,
        execution_id: str = "",
        deployment_name: str = "",
        after_revision: int = 0,
        resume_token: str = "",
        timeout: float | None = None,
    ) -> AsyncGenerator[pb.WatchStatusResponse, None]:
        """Yield status events and heartbeats as they come; close the generator to stop early
        (aclose() for AsyncTrackingClient)."""
        request = rq.watch_status(
            execution_id=execution_id,
            deployment_name=deployment_name,
            after_revision=after_revision,
            resume_token=resume_token,
        )
        return self._stream(m.WATCH_STATUS, request, timeout)

    def stream_logs(
        self,
        execution_id: str = "",
        *,
        deployment_name: str = "",
        after_seq: int = 0,
        since: dt.datetime | None = None,
        tail: int = 0,
        stream: EnumArg = execution_pb2.LOG_STREAM_UNSPECIFIED,
        follow: bool = False,
        contains: str = "",
        pattern: str = "",
        resume_token: str = "",
        timeout: float | None = None,
    ) -> AsyncGenerator[pb.StreamLogsResponse, None]:
        """Yield batches of log lines and heartbeats as they come; close the generator to stop
        early (aclose() for AsyncTrackingClient)."""
        request = rq.stream_logs(
            execution_id,
            deployment_name=deployment_name,
            after_seq=after_seq,
            since=since,
            tail=tail,
            stream=stream,
            follow=follow,
            contains=contains,
            pattern=pattern,
            resume_token=resume_token,
        )
        return self._stream(m.STREAM_LOGS, request, timeout)

    def stream_metrics(
        self,
        execution_id: str,
        *,
        after_seq: int = 0,
        names: Iterable[str] = (),
        follow: bool = False,
        timeout: float | None = None,
    ) -> AsyncGenerator[pb.StreamMetricsResponse, None]:
        """Yield batches of metric points and heartbeats as they come; close the generator
        to stop early (aclose() for AsyncTrackingClient)."""
        request = rq.stream_metrics(execution_id, after_seq=after_seq, names=names, follow=follow)
        return self._stream(m.STREAM_METRICS, request, timeout)

    def follow_metrics(
        self,
        execution_id: str,
        *,
        after_seq: int = 0,
        names: Iterable[str] = (),
        follow: bool = True,
        timeout: float | None = None,
    ) -> AsyncGenerator[metric_pb2.MetricPoint, None]:
        """Yield metric points one by one, reconnecting by itself (as watch() does) right
        after the seq of the last point yielded; close the generator (aclose() for
        AsyncTrackingClient) to stop early. With follow (the default) it ends once the
        execution has ended and every point was yielded; without, once the stored points
        were. Each seq is yielded once, in order."""
        request = rq.stream_metrics(execution_id, after_seq=after_seq, names=names, follow=follow)
        return self._resuming(rs.MetricFollow(request), timeout)

    def watch(
        self,
        *,
        execution_id: str = "",
        deployment_name: str = "",
        after_revision: int = 0,
        resume_token: str = "",
        timeout: float | None = None,
    ) -> AsyncGenerator[execution_pb2.ExecutionEvent, None]:
        """Yield status events (snapshots first), reconnecting by itself; close the generator
        (aclose() for AsyncTrackingClient) to stop early.

        Watches one execution, every execution of a deployment, or (neither given) all of
        them. Heartbeats are not yielded (watch_status has them). After UNAVAILABLE or
        RESOURCE_EXHAUSTED it reconnects after a backoff of the client's RetryPolicy, from
        the revision of the last event yielded (one execution) or its resume_token (many),
        and gives up, raising the error, after `max_attempts` failures in a row without a
        message. Other errors are raised at once: NotFound, InvalidArgument,
        FailedPrecondition (retention removed the events the cursor points to). No event is
        yielded twice, nor one older than the last yielded for its execution. A watch of one
        execution ends after its terminal (or DELETED) event; `timeout` bounds the whole
        iteration, reconnects included.
        """
        watch = rs.StatusWatch(
            execution_id=execution_id,
            deployment_name=deployment_name,
            after_revision=after_revision,
            resume_token=resume_token,
        )
        return self._resuming(watch, timeout)

    def follow_logs(
        self,
        execution_id: str = "",
        *,
        deployment_name: str = "",
        after_seq: int = 0,
        since: dt.datetime | None = None,
        tail: int = 0,
        stream: EnumArg = execution_pb2.LOG_STREAM_UNSPECIFIED,
        follow: bool = True,
        contains: str = "",
        pattern: str = "",
        resume_token: str = "",
        timeout: float | None = None,
    ) -> AsyncGenerator[execution_pb2.LogEntry, None]:
        """Yield log lines one by one, reconnecting by itself; close the generator (aclose()
        for AsyncTrackingClient) to stop early.

        With follow (the default) it ends once the execution has ended and every line was
        yielded; without, once the stored lines were. Reconnects as watch() does, right
        after the seq of the last line yielded: `tail` only applies until a line was
        yielded, `since`, `stream`, `contains` and `pattern` always. Each seq is yielded
        once, in order; `timeout` bounds the whole iteration.

        With `deployment_name` instead of `execution_id`: the lines of every execution of
        the deployment, each carrying its execution_id (in order within each execution);
        with follow it ends only when the deployment is deleted. It resumes from the
        resume_token of the last response (pass one as `resume_token` to start there).
        """
        logs = rs.LogFollow(
            rq.stream_logs(
                execution_id,
                deployment_name=deployment_name,
                after_seq=after_seq,
                since=since,
                tail=tail,
                stream=stream,
                follow=follow,
                contains=contains,
                pattern=pattern,
                resume_token=resume_token,
            )
        )
        return self._resuming(logs, timeout)
