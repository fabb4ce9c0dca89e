// Browsers: the Connect protocol over fetch() to the server's HTTP port
// (`POST /tracking.v1.TrackingService/<Method>` on TRACKING_HTTP_ADDRESS). Browsers cannot
// speak gRPC itself (no HTTP trailers), hence Connect.

import type { Interceptor, Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";

import { bearerToken } from "./auth.js";
import { createTrackingClient, type TrackingClient, type TrackingClientOptions } from "./client.js";
import { traceParent } from "./trace.js";

export interface WebTransportOptions {
  /** Sent as `authorization: Bearer <token>` with every call. */
  readonly token?: string | undefined;
  /** A W3C trace context, sent as `traceparent` with every call. */
  readonly traceParent?: string | undefined;
  /** Deadline of every call that gives none, in milliseconds. */
  readonly timeoutMs?: number;
  /** JSON instead of binary protobuf: easier to read in the browser's network tab. */
  readonly json?: boolean;
  readonly interceptors?: readonly Interceptor[];
}

/** A transport to `baseUrl`, e.g. "https://tracking.example:8080". */
export function createWebTransport(baseUrl: string, options: WebTransportOptions = {}): Transport {
  return createConnectTransport({
    baseUrl,
    useBinaryFormat: !options.json,
    interceptors: [
      ...(options.token === undefined ? [] : [bearerToken(options.token)]),
      ...(options.traceParent ? [traceParent(options.traceParent)] : []),
      ...(options.interceptors ?? []),
    ],
    ...(options.timeoutMs === undefined ? {} : { defaultTimeoutMs: options.timeoutMs }),
  });
}

/** A TrackingClient over createWebTransport(baseUrl, options). */
export function connect(
  baseUrl: string,
  options: WebTransportOptions & TrackingClientOptions = {},
): TrackingClient {
  return createTrackingClient(createWebTransport(baseUrl, options), options);
}
