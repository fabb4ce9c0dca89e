"""The HTTP side: every unary RPC over the Connect protocol (JSON or binary), the two streams
as server-sent events, and the dashboard. It runs in the gRPC server's process and event
loop and calls the same composed behaviors (api/registration.py), so validation, errors,
auth, limits, metrics and the drain are the gRPC side's own."""
