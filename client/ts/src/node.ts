// Transports for Node.js: gRPC over HTTP/2 to the server's gRPC port (TRACKING_ADDRESS,
// default 127.0.0.1:50051), or Connect over HTTP to its HTTP port (TRACKING_HTTP_ADDRESS,
// default 127.0.0.1:8080).

import type { Interceptor, Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";

import { bearerToken } from "./auth.js";
import { createTrackingClient, type TrackingClient, type TrackingClientOptions } from "./client.js";
import { traceParent } from "./trace.js";

export interface TlsOptions {
  /** CA certificate(s) (PEM) to trust instead of the system's. */
  readonly ca?: string | Buffer;
  /** Client certificate and key (PEM), for mutual TLS. */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  /** The name the server certificate must carry, when it differs from the address' host. */
  readonly serverName?: string;
}

export interface NodeTransportOptions {
  /** "grpc" (default): gRPC over HTTP/2; "connect": the Connect protocol over HTTP/1.1. */
  readonly protocol?: "grpc" | "connect";
  /** Sent as `authorization: Bearer <token>` with every call. */
  readonly token?: string | undefined;
  /** A W3C trace context, sent as `traceparent` with every call. Absent: the TRACEPARENT
   * environment variable (which `tracking run` gives its command); "": none. */
  readonly traceParent?: string | undefined;
  /** true (the system's CAs) or TLS settings; plaintext when absent. */
  readonly tls?: boolean | TlsOptions;
  /** Deadline of every call that gives none, in milliseconds. */
  readonly timeoutMs?: number;
  readonly interceptors?: readonly Interceptor[];
}

/** A transport to `address` (host:port, or a URL: http:// is plaintext, https:// TLS). */
export function createNodeTransport(address: string, options: NodeTransportOptions = {}): Transport {
  const tls = options.tls ?? address.startsWith("https://");
  const baseUrl = /^https?:\/\//.test(address) ? address : `${tls ? "https" : "http"}://${address}`;
  const trace = (options.traceParent ?? process.env.TRACEPARENT ?? "").trim();
  const interceptors = [
    ...(options.token === undefined ? [] : [bearerToken(options.token)]),
    ...(trace === "" ? [] : [traceParent(trace)]),
    ...(options.interceptors ?? []),
  ];
  const settings = typeof tls === "object" ? tls : {};
  const nodeOptions = {
    ...(settings.ca === undefined ? {} : { ca: settings.ca }),
    ...(settings.cert === undefined ? {} : { cert: settings.cert }),
    ...(settings.key === undefined ? {} : { key: settings.key }),
    ...(settings.serverName === undefined ? {} : { servername: settings.serverName }),
  };
  const common = {
    baseUrl,
    interceptors,
    ...(options.timeoutMs === undefined ? {} : { defaultTimeoutMs: options.timeoutMs }),
  };
  if (options.protocol === "connect") {
    return createConnectTransport({ ...common, httpVersion: "1.1", nodeOptions });
  }
  return createGrpcTransport({ ...common, nodeOptions });
}

/** A TrackingClient over createNodeTransport(address, options). */
export function connect(
  address: string,
  options: NodeTransportOptions & TrackingClientOptions = {},
): TrackingClient {
  return createTrackingClient(createNodeTransport(address, options), options);
}
