"""Execution RPCs: create, read, list, delete, inputs and outputs, steps."""

from __future__ import annotations

import hashlib

from tracking.service.api.context import Context, caller_name
from tracking.service.api.execution_messages import execution_proto, new_execution
from tracking.service.api.stored_executions import add_page, execution_of
from tracking.service.api.values import from_json, to_json
from tracking.service.domain.clock import utcnow
from tracking.service.operations.executions import Executions
from tracking.service.trace_context import creation_traceparent
from tracking.v1 import io_pb2
from tracking.v1 import tracking_service_pb2 as pb


class ExecutionsApi:
    executions: Executions

    async def CreateExecution(
        self, request: pb.CreateExecutionRequest, context: Context
    ) -> pb.CreateExecutionResponse:
        fingerprint = hashlib.sha256(
            request.execution.SerializeToString(deterministic=True)
        ).hexdigest()
        stored = await self.executions.create(
            new_execution(request.execution, creation_traceparent(context.invocation_metadata())),
            request.request_id,
            fingerprint,
            caller_name(),
        )
        return pb.CreateExecutionResponse(execution=execution_of(stored, utcnow()))

    async def GetExecution(
        self, request: pb.GetExecutionRequest, context: Context
    ) -> pb.GetExecutionResponse:
        stored = await self.executions.get_stored(request.execution_id)
        return pb.GetExecutionResponse(execution=execution_of(stored, utcnow()))

    async def ListExecutions(
        self, request: pb.ListExecutionsRequest, context: Context
    ) -> pb.ListExecutionsResponse:
        page = await self.executions.list_page(
            request.filter, request.page_size, request.page_token
        )
        # Large executions make a shorter page, so that the response stays well under the
        # message limit; the token continues after the last one sent.
        response = pb.ListExecutionsResponse()
        shown = add_page(response.executions, page.rows, utcnow())
        response.next_page_token = page.next_token(shown)
        return response

    async def DeleteExecution(
        self, request: pb.DeleteExecutionRequest, context: Context
    ) -> pb.DeleteExecutionResponse:
        await self.executions.delete(request.execution_id)
        return pb.DeleteExecutionResponse(execution_id=request.execution_id)

    async def GetExecutionInput(
        self, request: pb.GetExecutionInputRequest, context: Context
    ) -> pb.GetExecutionInputResponse:
        found = await self.executions.get_input(request.execution_id, request.input_name)
        return pb.GetExecutionInputResponse(input=from_json(found, io_pb2.ExecutionInput()))

    async def GetExecutionOutput(
        self, request: pb.GetExecutionOutputRequest, context: Context
    ) -> pb.GetExecutionOutputResponse:
        found = await self.executions.get_output(request.execution_id, request.output_name)
        return pb.GetExecutionOutputResponse(output=from_json(found, io_pb2.ExecutionOutput()))

    async def SetExecutionOutputs(
        self, request: pb.SetExecutionOutputsRequest, context: Context
    ) -> pb.SetExecutionOutputsResponse:
        row = await self.executions.set_outputs(
            request.execution_id,
            [to_json(o, f"outputs[{i}]") for i, o in enumerate(request.outputs)],
            to_json(request.result, "result") if request.HasField("result") else None,
            dict(request.export_paths),
            dict(request.source_views),
        )
        return pb.SetExecutionOutputsResponse(execution=execution_proto(row, utcnow()))

    async def UpdateStep(
        self, request: pb.UpdateStepRequest, context: Context
    ) -> pb.UpdateStepResponse:
        step, revision = await self.executions.update_step(
            request.execution_id, to_json(request.step, "step")
        )
        return pb.UpdateStepResponse(step=from_json(step, type(request.step)()), revision=revision)
