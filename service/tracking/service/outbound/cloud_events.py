"""Events as CloudEvents 1.0 in the structured JSON format (docs/events.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cloudevents.core.bindings.http import to_structured
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from tracking.service.domain.clock import utcnow
from tracking.service.domain.subscriptions import (
    TEST_EVENT_TYPE,
    cloud_event_type,
    deployment_kind_of,
    kind_of,
)
from tracking.service.operations.outbox import DeploymentOutboxEvent, OutboxEvent

CONTENT_TYPE = JSONFormat.CONTENT_TYPE
_FORMAT = JSONFormat()
# The JobStatus fields of an event row, under their JSON names.
_STATUS_FIELDS = {
    "status": "status",
    "progress": "progress",
    "phase": "phase",
    "stop_message": "stopMessage",
    "cancel_reason": "cancelReason",
    "create_time": "createTime",
    "start_time": "startTime",
    "end_time": "endTime",
    "update_time": "updateTime",
}


def event_id(event: OutboxEvent | DeploymentOutboxEvent) -> str:
    """The CloudEvent id: the event's position in the service's log (`evt_`), or in the
    deployments' (`dep_`), the same on every retry (the receiver's idempotency key; also
    webhook-id and Nats-Msg-Id)."""
    if isinstance(event, DeploymentOutboxEvent):
        return f"dep_{event.id}"
    return f"evt_{event.id}"


def _rfc3339(value: Any) -> Any:
    return value.replace("+00:00", "Z") if isinstance(value, str) else value


def data_of(event: OutboxEvent) -> dict[str, Any]:
    snapshot = event.job_status
    return {
        "executionId": event.execution_id,
        "deploymentName": event.deployment_name or "",
        "jobName": event.job_name,
        "labels": event.labels,
        "revision": event.revision,
        "changes": [change for change in event.changes.split(",") if change],
        "jobStatus": {
            json_name: _rfc3339(snapshot.get(name))
            for name, json_name in _STATUS_FIELDS.items()
            if snapshot.get(name) not in (None, "")
        },
    }


def encode(event: OutboxEvent, source: str) -> bytes:
    """The event as a structured CloudEvent (JSON), with the execution's trace context in
    the Distributed Tracing extension (`traceparent`) when it keeps one."""
    attributes = {
        "id": event_id(event),
        "source": source,
        "type": cloud_event_type(kind_of(event.changes.split(","))),
        "subject": event.execution_id,
        "time": event.create_time,
    }
    if event.trace_parent:
        attributes["traceparent"] = event.trace_parent
    return _encode(attributes, data_of(event))


def encode_deployment(event: DeploymentOutboxEvent, source: str) -> bytes:
    """A deployment's creation, update or deletion as a structured CloudEvent (JSON)."""
    attributes = {
        "id": event_id(event),
        "source": source,
        "type": cloud_event_type(deployment_kind_of(event.kind)),
        "subject": event.deployment_name,
        "time": event.create_time,
    }
    return _encode(
        attributes, {"deploymentName": event.deployment_name, "deployment": event.deployment}
    )


def encode_test(
    source: str, subscription_id: str, now: datetime | None = None
) -> tuple[str, bytes]:
    """(id, body) of a test event for a subscription."""
    when = now or utcnow()
    identifier = f"test_{subscription_id}_{int(when.timestamp() * 1e6)}"
    body = _encode(
        {"id": identifier, "source": source, "type": TEST_EVENT_TYPE, "time": when},
        {"subscriptionId": subscription_id},
    )
    return identifier, body


def _encode(attributes: dict[str, Any], data: dict[str, Any]) -> bytes:
    attributes = {"specversion": "1.0", "datacontenttype": "application/json", **attributes}
    return to_structured(CloudEvent(attributes, data), _FORMAT).body
