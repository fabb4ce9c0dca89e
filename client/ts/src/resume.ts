// Streams that resume by themselves: the cursors of WatchStatus and StreamLogs, and the
// reconnect budget. The same rules as the Python client's (tracking/client/resume.py):
//
// - A call that fails with UNAVAILABLE or RESOURCE_EXHAUSTED from the server (shutting
//   down; the watcher fell behind and was closed), or whose connection broke (the server
//   died, the network went away), is opened again from the cursor after a backoff. The
//   count of failures starts again at zero after every message received, so only
//   `maxAttempts` failures in a row without a message give up, with the last error.
// - Any other error (NOT_FOUND, INVALID_ARGUMENT, FAILED_PRECONDITION when retention
//   removed what the cursor points to, a deadline, a cancel) is thrown at once.
// - The cursors never hand out an event whose revision is not above the last one handed
//   out for the same execution, nor a log line whose seq is not above the last one.

import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";

import { TrackingError } from "./errors.js";
import { ChangeKind, type ExecutionEvent, type LogEntry } from "./gen/tracking/v1/execution_pb.js";
import { RunningStatus } from "./gen/tracking/v1/status_pb.js";
import {
  type StreamLogsRequest,
  StreamLogsRequestSchema,
  type StreamLogsResponse,
  type WatchStatusRequest,
  WatchStatusRequestSchema,
  type WatchStatusResponse,
} from "./gen/tracking/v1/tracking_service_pb.js";

/**
 * How often and how long a resuming stream waits before it opens its call again. The delay
 * before reconnect n (from 1) is drawn uniformly from
 * [0, min(maxBackoffMs, initialBackoffMs * multiplier ** (n - 1))].
 */
export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly multiplier: number;
}

/** Rides out a few seconds without a server; a watcher meant to outlive restarts wants more. */
export const DEFAULT_RETRY: RetryPolicy = Object.freeze({
  maxAttempts: 4,
  initialBackoffMs: 500,
  maxBackoffMs: 10_000,
  multiplier: 2,
});

export function backoffMs(policy: RetryPolicy, retry: number): number {
  const exponent = Math.min(retry - 1, 64);
  const cap = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * policy.multiplier ** exponent);
  return cap * Math.random();
}

const SERVER_RESUMABLE = new Set([Code.Unavailable, Code.ResourceExhausted]);
// What the transports report when the connection itself broke (reset, refused, closed
// without a status: Node.js closes the HTTP/2 streams of a lost connection with CANCEL), as
// opposed to a status the server sent. A cancel of the caller's own is not among them: the
// stream checks its signal first.
const CONNECTION_LOST = new Set([
  Code.Unavailable,
  Code.Aborted,
  Code.Canceled,
  Code.Internal,
  Code.Unknown,
]);

/** Whether a stream that failed with `error`, not cancelled by its caller, is opened again. */
export function isResumable(error: TrackingError): boolean {
  return error.isWireError ? SERVER_RESUMABLE.has(error.code) : CONNECTION_LOST.has(error.code);
}

const TERMINAL = new Set([
  RunningStatus.SUCCESS,
  RunningStatus.ERROR,
  RunningStatus.CANCELED,
]);

/** Whether a single-execution watch ends after this event (terminal status, or deleted). */
export function isFinal(event: ExecutionEvent): boolean {
  return (
    TERMINAL.has(event.jobStatus?.status ?? RunningStatus.UNSPECIFIED) ||
    event.changes.includes(ChangeKind.DELETED)
  );
}

/** The position of a server stream read across several calls. */
export interface ResumableStream<Req, Resp, Item> {
  /** True once everything the stream has to give was handed out. */
  readonly done: boolean;
  /** The request that opens (or reopens) the stream at the cursor. */
  request(): Req;
  /** Advance the cursor past `response`; the items to hand out (duplicates dropped). */
  accept(response: Resp): Item[];
}

/**
 * WatchStatus of one execution (resumed by after_revision) or of many (by resume_token).
 * Hands out events (snapshots included), never heartbeats.
 */
export class StatusWatch
  implements ResumableStream<WatchStatusRequest, WatchStatusResponse, ExecutionEvent>
{
  done = false;
  private readonly executionId: string;
  private readonly deploymentName: string;
  private afterRevision: bigint;
  private resumeToken: string;
  // The last revision handed out, per execution.
  private readonly revisions = new Map<string, bigint>();

  constructor(first: WatchStatusRequest) {
    this.executionId = first.executionId;
    this.deploymentName = first.deploymentName;
    this.afterRevision = first.afterRevision;
    this.resumeToken = first.resumeToken;
    if (this.executionId && this.afterRevision > 0n) {
      this.revisions.set(this.executionId, this.afterRevision);
    }
  }

  request(): WatchStatusRequest {
    return create(WatchStatusRequestSchema, {
      executionId: this.executionId,
      deploymentName: this.deploymentName,
      afterRevision: this.afterRevision,
      resumeToken: this.resumeToken,
    });
  }

  accept(response: WatchStatusResponse): ExecutionEvent[] {
    if (response.kind.case !== "event") return []; // a heartbeat
    const event = response.kind.value;
    // The cursor moves even past a duplicate: what it points to was handed out already.
    if (this.executionId) {
      if (event.revision > this.afterRevision) this.afterRevision = event.revision;
    } else if (event.resumeToken) {
      this.resumeToken = event.resumeToken;
    }
    const last = this.revisions.get(event.executionId);
    if (last !== undefined && event.revision <= last) return [];
    if (event.changes.includes(ChangeKind.DELETED) && !this.executionId) {
      // Its id may be used again, by a new execution whose revisions start over.
      this.revisions.delete(event.executionId);
    } else {
      this.revisions.set(event.executionId, event.revision);
    }
    if (this.executionId && isFinal(event)) this.done = true;
    return [event];
  }
}

/**
 * StreamLogs of one execution, resumed after the seq of the last line handed out (`tail`
 * only shapes the first call); or of a whole deployment, resumed from the resume_token of
 * the last response received.
 */
export class LogFollow implements ResumableStream<StreamLogsRequest, StreamLogsResponse, LogEntry> {
  done = false;
  private lastSeq: bigint | undefined;
  private resumeToken: string;

  constructor(private readonly first: StreamLogsRequest) {
    this.resumeToken = first.resumeToken;
  }

  request(): StreamLogsRequest {
    const request = create(StreamLogsRequestSchema, this.first);
    if (this.first.deploymentName) {
      request.resumeToken = this.resumeToken;
    } else if (this.lastSeq !== undefined) {
      request.afterSeq = this.lastSeq;
      request.tail = 0;
    }
    return request;
  }

  accept(response: StreamLogsResponse): LogEntry[] {
    if (this.first.deploymentName) {
      if (response.resumeToken) this.resumeToken = response.resumeToken;
      return response.entries;
    }
    let floor = this.lastSeq ?? this.first.afterSeq;
    const fresh: LogEntry[] = [];
    for (const entry of response.entries) {
      if (entry.seq > floor) {
        fresh.push(entry);
        floor = this.lastSeq = entry.seq;
      }
    }
    return fresh;
  }
}

/** Reads `stream` across as many calls as it takes, as an async iterator. */
export async function* resuming<Req, Resp, Item>(
  stream: ResumableStream<Req, Resp, Item>,
  open: (request: Req, signal: AbortSignal) => AsyncIterable<Resp>,
  policy: RetryPolicy,
  signal?: AbortSignal,
): AsyncGenerator<Item, void, undefined> {
  let failures = 0;
  for (;;) {
    const call = new AbortController();
    const stop = () => call.abort(signal?.reason);
    signal?.addEventListener("abort", stop, { once: true });
    let error: TrackingError;
    try {
      for await (const response of open(stream.request(), call.signal)) {
        failures = 0;
        yield* stream.accept(response);
      }
      return;
    } catch (reason) {
      error = TrackingError.from(reason);
    } finally {
      signal?.removeEventListener("abort", stop);
      call.abort(); // no-op once finished; frees the call if the caller stopped early
    }
    if (stream.done) return; // the server was ending the stream anyway: nothing is missing
    failures += 1;
    if (signal?.aborted || !isResumable(error) || failures >= policy.maxAttempts) throw error;
    await sleep(backoffMs(policy, failures), signal);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
