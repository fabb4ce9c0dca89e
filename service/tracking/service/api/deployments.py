"""Deployment RPCs: proto <-> operations."""

from __future__ import annotations

from datetime import datetime

from tracking.service.api import convert
from tracking.service.api.context import Context, may_see_endpoint_tokens, principal
from tracking.service.operations.deployments import Deployments
from tracking.service.store.models import DeploymentRow
from tracking.service.store.types import utcnow
from tracking.v1 import deployment_pb2
from tracking.v1 import tracking_service_pb2 as pb


class DeploymentsApi:
    deployments: Deployments

    async def CreateDeployment(
        self, request: pb.CreateDeploymentRequest, context: Context
    ) -> pb.CreateDeploymentResponse:
        fields = _checked_fields(request.deployment)
        row = await self.deployments.create(fields, principal(context))
        return pb.CreateDeploymentResponse(deployment=convert.deployment_proto(row, utcnow()))

    async def GetDeployment(
        self, request: pb.GetDeploymentRequest, context: Context
    ) -> pb.GetDeploymentResponse:
        row = await self.deployments.get(request.name)
        return pb.GetDeploymentResponse(deployment=_shown(row, utcnow()))

    async def ListDeployments(
        self, request: pb.ListDeploymentsRequest, context: Context
    ) -> pb.ListDeploymentsResponse:
        page = await self.deployments.list_page(
            request.filter, request.page_size, request.page_token
        )
        now = utcnow()
        # A page stops at about 2 MiB; the token continues after the last deployment sent.
        shown = next(convert.chunks_that_fit(_shown(row, now) for row in page.rows))
        return pb.ListDeploymentsResponse(
            deployments=shown, next_page_token=page.next_token(len(shown))
        )

    async def UpdateDeployment(
        self, request: pb.UpdateDeploymentRequest, context: Context
    ) -> pb.UpdateDeploymentResponse:
        fields = _checked_fields(request.deployment)
        paths = list(dict.fromkeys(request.update_mask.paths))
        row = await self.deployments.update(
            request.deployment.name, fields, paths, principal(context)
        )
        return pb.UpdateDeploymentResponse(deployment=convert.deployment_proto(row, utcnow()))

    async def DeleteDeployment(
        self, request: pb.DeleteDeploymentRequest, context: Context
    ) -> pb.DeleteDeploymentResponse:
        row, count = await self.deployments.delete(request.name)
        return pb.DeleteDeploymentResponse(
            name=row.name,
            execution_rule=convert.enum_number(
                deployment_pb2.ExecutionRule.DESCRIPTOR, row.execution_rule
            ),
            deleted_execution_count=count,
        )


def _shown(row: DeploymentRow, now: datetime) -> deployment_pb2.Deployment:
    """The deployment as this caller may see it."""
    deployment = convert.deployment_proto(row, now)
    if not may_see_endpoint_tokens():
        deployment.ClearField("endpoint_token")
    return deployment


def _checked_fields(deployment: deployment_pb2.Deployment) -> dict[str, object]:
    return convert.deployment_fields(deployment)
