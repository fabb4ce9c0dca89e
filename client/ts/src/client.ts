// The client: every RPC of the generated TrackingService descriptor, typed, over any Connect
// transport; failures as TrackingError; and the two streams that resume by themselves.

import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { type CallOptions, type Client, createClient, type Transport } from "@connectrpc/connect";

import { TrackingError } from "./errors.js";
import type { ExecutionEvent, LogEntry } from "./gen/tracking/v1/execution_pb.js";
import {
  StreamLogsRequestSchema,
  TrackingService,
  WatchStatusRequestSchema,
} from "./gen/tracking/v1/tracking_service_pb.js";
import { DEFAULT_RETRY, LogFollow, type RetryPolicy, resuming, StatusWatch } from "./resume.js";

export interface TrackingClientOptions {
  /** The reconnect budget of watch() and followLogs() (default DEFAULT_RETRY). */
  readonly retry?: RetryPolicy;
}

export interface StreamOptions {
  /** Overrides the client's reconnect budget for this stream. */
  readonly retry?: RetryPolicy;
  /** Ends the stream: the iterator throws a TrackingError with Code.Canceled. */
  readonly signal?: AbortSignal;
  /** Headers sent with each call of the stream. */
  readonly headers?: HeadersInit;
}

export type WatchStatusInit = MessageInitShape<typeof WatchStatusRequestSchema>;
export type StreamLogsInit = MessageInitShape<typeof StreamLogsRequestSchema>;

/**
 * Every TrackingService RPC as a method (`createExecution`, `watchStatus`, ...), taking the
 * request's fields and returning the response (server streams: an AsyncIterable), plus:
 *
 * - `watch({executionId} | {deploymentName})`: the status events, snapshots first, resumed
 *   from the last one after UNAVAILABLE or a lost connection, never one twice; with
 *   executionId it ends after the execution's terminal event.
 * - `followLogs({executionId} | {deploymentName})`: the log lines one by one (follow unless
 *   `follow: false`), resumed after the last seq (a deployment's: from the last
 *   resume_token), never one twice; ends when the execution has ended.
 *
 * Leaving a `for await` loop early cancels the call. Failures are TrackingError.
 */
export type TrackingClient = Client<typeof TrackingService> & {
  watch(request: WatchStatusInit, options?: StreamOptions): AsyncGenerator<ExecutionEvent, void>;
  followLogs(request: StreamLogsInit, options?: StreamOptions): AsyncGenerator<LogEntry, void>;
};

export function createTrackingClient(
  transport: Transport,
  options: TrackingClientOptions = {},
): TrackingClient {
  const raw = createClient(TrackingService, withTrackingErrors(transport));
  const policy = options.retry ?? DEFAULT_RETRY;
  const callOptions = (signal: AbortSignal, opts: StreamOptions): CallOptions =>
    opts.headers === undefined ? { signal } : { signal, headers: opts.headers };
  return Object.assign(raw, {
    watch(request: WatchStatusInit, opts: StreamOptions = {}) {
      const watch = new StatusWatch(create(WatchStatusRequestSchema, request));
      return resuming(
        watch,
        (req, signal) => raw.watchStatus(req, callOptions(signal, opts)),
        opts.retry ?? policy,
        opts.signal,
      );
    },
    followLogs(request: StreamLogsInit, opts: StreamOptions = {}) {
      const first = create(StreamLogsRequestSchema, { follow: true, ...request });
      return resuming(
        new LogFollow(first),
        (req, signal) => raw.streamLogs(req, callOptions(signal, opts)),
        opts.retry ?? policy,
        opts.signal,
      );
    },
  });
}

/** The transport, its failures (unary, and while a stream is read) turned into TrackingError. */
function withTrackingErrors(transport: Transport): Transport {
  return {
    async unary(method, signal, timeoutMs, header, input, contextValues) {
      try {
        return await transport.unary(method, signal, timeoutMs, header, input, contextValues);
      } catch (reason) {
        throw TrackingError.from(reason);
      }
    },
    async stream(method, signal, timeoutMs, header, input, contextValues) {
      try {
        const response = await transport.stream(
          method,
          signal,
          timeoutMs,
          header,
          input,
          contextValues,
        );
        return { ...response, message: rethrowing(response.message) };
      } catch (reason) {
        throw TrackingError.from(reason);
      }
    },
  };
}

async function* rethrowing<T>(messages: AsyncIterable<T>): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (reason) {
    throw TrackingError.from(reason);
  }
}
