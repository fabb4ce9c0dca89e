import type { Interceptor } from "@connectrpc/connect";

/** An interceptor that sends `traceparent` (a W3C trace context) with every call, so that
 * the server's spans join that trace and the executions created keep it. */
export function traceParent(value: string): Interceptor {
  return (next) => (request) => {
    request.header.set("traceparent", value);
    return next(request);
  };
}
