"""Deployment RPCs: proto <-> operations."""

from __future__ import annotations

from datetime import datetime

from tracking.service.api.context import Context, caller_name, may_see_endpoint_tokens
from tracking.service.api.deployment_messages import deployment_fields, deployment_proto
from tracking.service.api.enum_names import enum_number
from tracking.service.api.sizing import chunks_that_fit
from tracking.service.domain.clock import utcnow
from tracking.service.operations.deployments import Deployments
from tracking.service.store.models import DeploymentRow
from tracking.v1 import deployment_pb2
from tracking.v1 import tracking_service_pb2 as pb


class DeploymentsApi:
    deployments: Deployments

    async def CreateDeployment(
        self, request: pb.CreateDeploymentRequest, context: Context
    ) -> pb.CreateDeploymentResponse:
        row = await self.deployments.create(deployment_fields(request.deployment), caller_name())
        return pb.CreateDeploymentResponse(deployment=deployment_proto(row, utcnow()))

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
        shown = next(chunks_that_fit(_shown(row, now) for row in page.rows))
        return pb.ListDeploymentsResponse(
            deployments=shown, next_page_token=page.next_token(len(shown))
        )

    async def UpdateDeployment(
        self, request: pb.UpdateDeploymentRequest, context: Context
    ) -> pb.UpdateDeploymentResponse:
        # A client built before is_enabled had presence never puts a false on the wire: in
        # an update that names is_enabled, an unset value is that false.
        fields = deployment_fields(request.deployment, enabled_when_unset=False)
        paths = list(dict.fromkeys(request.update_mask.paths))
        row = await self.deployments.update(request.deployment.name, fields, paths, caller_name())
        return pb.UpdateDeploymentResponse(deployment=deployment_proto(row, utcnow()))

    async def DeleteDeployment(
        self, request: pb.DeleteDeploymentRequest, context: Context
    ) -> pb.DeleteDeploymentResponse:
        row, count = await self.deployments.delete(request.name)
        return pb.DeleteDeploymentResponse(
            name=row.name,
            execution_rule=enum_number(deployment_pb2.ExecutionRule.DESCRIPTOR, row.execution_rule),
            deleted_execution_count=count,
        )


def _shown(row: DeploymentRow, now: datetime) -> deployment_pb2.Deployment:
    """The deployment as this caller may see it."""
    deployment = deployment_proto(row, now)
    if not may_see_endpoint_tokens():
        deployment.ClearField("endpoint_token")
    return deployment
