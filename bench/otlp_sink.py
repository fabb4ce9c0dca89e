"""An OTLP/gRPC trace receiver that counts the spans it is sent and keeps nothing: what the
server exports to while `make callgrind` measures the cost of tracing.

    python -m bench.otlp_sink [--port 4317]

Prints the count of spans received every ten seconds; runs until interrupted.
"""

from __future__ import annotations

import argparse
import threading
import time
from concurrent import futures

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc


class Sink(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.spans = 0
        self._lock = threading.Lock()

    def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        count = sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
        with self._lock:
            self.spans += count
        return trace_service_pb2.ExportTraceServiceResponse()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=4317)
    args = parser.parse_args()
    sink = Sink()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(sink, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port(f"127.0.0.1:{args.port}")
    server.start()
    print(f"OTLP/gRPC on 127.0.0.1:{port}", flush=True)
    try:
        while True:
            time.sleep(10)
            print(f"{sink.spans} spans received", flush=True)
    except KeyboardInterrupt:
        server.stop(None)


if __name__ == "__main__":
    main()
