"""What a handler learns about its caller."""

from __future__ import annotations

from tracking.service.auth import current_principal
from tracking.service.domain.auth import Role
from tracking.service.failed_auth import peer_host
from tracking.service.wrapping import Context

__all__ = ["Context", "caller_name", "may_see_endpoint_tokens", "watcher_budget"]


def caller_name() -> str:
    """The caller's name (the token's name; "anonymous" when auth is off), as the auth
    interceptor admitted it."""
    return current_principal.get().name


def watcher_budget(context: Context) -> str:
    """Whose budget of open streams a stream counts against: its token (by id: two tokens
    may share a name) or, with auth off, the address it comes from."""
    token_id = current_principal.get().token_id
    return f"token {token_id}" if token_id else f"address {peer_host(context.peer())}"


def may_see_endpoint_tokens() -> bool:
    """Endpoint tokens are shown to writers and admins (anyone when auth is off), not readers."""
    return current_principal.get().role >= Role.WRITER
