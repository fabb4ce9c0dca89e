"""Token RPCs (admin only; the auth interceptor enforces it)."""

from __future__ import annotations

from tracking.service.api.context import Context, caller_name
from tracking.service.api.enum_names import enum_name, enum_number
from tracking.service.api.values import stamp
from tracking.service.operations.tokens import Tokens
from tracking.service.store.models import ApiTokenRow
from tracking.v1 import auth_pb2
from tracking.v1 import tracking_service_pb2 as pb


def token_proto(row: ApiTokenRow) -> auth_pb2.ApiToken:
    return auth_pb2.ApiToken(
        token_id=row.token_id,
        name=row.name,
        role=enum_number(auth_pb2.Role.DESCRIPTOR, row.role),
        create_time=stamp(row.create_time),
        created_by=row.created_by,
        revoke_time=stamp(row.revoke_time),
    )


class TokensApi:
    tokens: Tokens

    async def CreateToken(
        self, request: pb.CreateTokenRequest, context: Context
    ) -> pb.CreateTokenResponse:
        role = enum_name(auth_pb2.Role.DESCRIPTOR, request.role)
        row, secret = await self.tokens.create(request.name, role, caller_name())
        return pb.CreateTokenResponse(token=token_proto(row), secret=secret)

    async def ListTokens(
        self, request: pb.ListTokensRequest, context: Context
    ) -> pb.ListTokensResponse:
        rows = await self.tokens.list_all(request.include_revoked)
        return pb.ListTokensResponse(tokens=[token_proto(row) for row in rows])

    async def RevokeToken(
        self, request: pb.RevokeTokenRequest, context: Context
    ) -> pb.RevokeTokenResponse:
        row = await self.tokens.revoke(request.token_id)
        return pb.RevokeTokenResponse(token=token_proto(row))
