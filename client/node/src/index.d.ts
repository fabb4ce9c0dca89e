// Types of src/client.js. Messages are plain objects as @grpc/proto-loader
// builds them with keepCase, longs: String, enums: String, defaults, oneofs:
// snake_case fields, int64 as string, enums as their names. Only the fields
// the wrapper relies on are spelled out; the rest stay open.

import type * as grpc from '@grpc/grpc-js';

export { grpc };

export declare const DEFAULT_PROTO_DIR: string;
export declare const LOADER_OPTIONS: Readonly<{
  keepCase: true;
  longs: StringConstructor;
  enums: StringConstructor;
  defaults: true;
  oneofs: true;
}>;

/** An int64 as sent back by the server (a decimal string); numbers are accepted on input. */
export type Int64 = string;

export type RunningStatus =
  | 'RUNNING_STATUS_UNSPECIFIED'
  | 'RUNNING_STATUS_WAITING'
  | 'RUNNING_STATUS_RUNNING'
  | 'RUNNING_STATUS_SUCCESS'
  | 'RUNNING_STATUS_ERROR'
  | 'RUNNING_STATUS_CANCELED'
  | 'RUNNING_STATUS_SUSPENDED'
  | 'RUNNING_STATUS_CANCEL_REQUESTED'
  | 'RUNNING_STATUS_UNKNOWN';

/** A stop cause: the full enum name, or its short form ("SUCCESS"), or its number. */
export type StopCause =
  | 'RUNNING_STATUS_SUCCESS'
  | 'RUNNING_STATUS_ERROR'
  | 'RUNNING_STATUS_CANCELED'
  | 'RUNNING_STATUS_UNKNOWN'
  | 'SUCCESS'
  | 'ERROR'
  | 'CANCELED'
  | 'UNKNOWN'
  | number;

export type ChangeKind =
  | 'CHANGE_KIND_UNSPECIFIED'
  | 'CHANGE_KIND_CREATED'
  | 'CHANGE_KIND_STATUS'
  | 'CHANGE_KIND_PROGRESS'
  | 'CHANGE_KIND_OUTPUTS'
  | 'CHANGE_KIND_CANCEL_REQUEST'
  | 'CHANGE_KIND_STEP'
  | 'CHANGE_KIND_DELETED';

export type LogStream = 'LOG_STREAM_UNSPECIFIED' | 'LOG_STREAM_STDOUT' | 'LOG_STREAM_STDERR';

export interface Timestamp {
  seconds: Int64;
  nanos: number;
}

export interface Duration {
  seconds: Int64;
  nanos: number;
}

export interface JobStatus {
  status: RunningStatus;
  progress: number;
  phase: string;
  stop_message: string;
  create_time: Timestamp | null;
  start_time: Timestamp | null;
  end_time: Timestamp | null;
  duration: Duration | null;
  update_time: Timestamp | null;
  revision: Int64;
  cancel_reason: string;
}

export interface Deployment {
  name: string;
  pipeline_name: string;
  description: string;
  execution_rule: 'EXECUTION_RULE_UNSPECIFIED' | 'EXECUTION_RULE_ENDPOINT' | 'EXECUTION_RULE_PERIODIC';
  mode: string;
  schedule: string;
  status: string;
  is_enabled: boolean;
  labels: Record<string, string>;
  create_time: Timestamp | null;
  last_execution_id: string;
  [field: string]: unknown;
}

export interface Execution {
  execution_id: string;
  deployment_name: string;
  pipeline_name: string;
  job_name: string;
  job_type: string;
  experiment_name: string;
  model_run_id: string;
  job_status: JobStatus | null;
  labels: Record<string, string>;
  created_by: string;
  [field: string]: unknown;
}

export interface LogEntry {
  seq: Int64;
  timestamp: Timestamp | null;
  stream: LogStream;
  message: string;
  step_name: string;
}

/** A log line to append: seq is assigned by the server, timestamp defaults to arrival. */
export interface LogEntryInput {
  message: string;
  stream?: LogStream | number;
  step_name?: string;
  timestamp?: { seconds: number | string; nanos?: number };
}

export interface ExecutionEvent {
  execution_id: string;
  deployment_name: string;
  revision: Int64;
  job_status: JobStatus | null;
  changes: ChangeKind[];
  resume_token: string;
  snapshot: boolean;
}

/** A failed call. */
export declare class TrackingError extends Error {
  constructor(
    method: string,
    cause: { code?: number; details?: string; metadata?: grpc.Metadata; message?: string },
  );
  readonly name: 'TrackingError';
  /** gRPC status number, e.g. 5. */
  readonly code: number;
  /** gRPC status name, e.g. "NOT_FOUND". */
  readonly codeName: keyof typeof grpc.status | 'UNKNOWN';
  /** The server's message. */
  readonly details: string;
  /** Trailing metadata (google.rpc.Status in `grpc-status-details-bin`). */
  readonly metadata: grpc.Metadata | undefined;
  /** RPC name, e.g. "GetExecution". */
  readonly method: string;
}

export interface ClientOptions {
  /** Bearer token, sent as `authorization: Bearer <token>` on every call. */
  token?: string;
  /** Channel credentials; default insecure (plaintext). */
  credentials?: grpc.ChannelCredentials;
  /** Directory holding tracking/v1/*.proto; default the repository's protos/. */
  protoDir?: string;
  /** Deadline of each unary call, in milliseconds; default none. */
  timeoutMs?: number;
  channelOptions?: grpc.ChannelOptions;
}

export interface RevisionOptions {
  /** Make the change only if the execution's revision is still this (else ABORTED). */
  expectedRevision?: number | string;
}

export interface WatchOptions {
  /** Start right after this revision (no snapshot). */
  afterRevision?: number | string;
}

export interface FollowLogsOptions {
  /** Start right after this seq. */
  afterSeq?: number | string;
  /** Start with the last N stored lines (0: all). */
  tail?: number;
  /** Only lines of this stream. */
  stream?: LogStream | number;
  /** Keep following new lines until the execution ends; default true. */
  follow?: boolean;
}

export interface TrackingClient {
  /** Calls any unary RPC by name, e.g. call('ListExecutions', { page_size: 10 }). */
  call<T = any>(method: string, request: object): Promise<T>;
  close(): void;
  /** The underlying @grpc/grpc-js client. */
  readonly raw: grpc.Client & Record<string, any>;

  createDeployment(deployment: Partial<Deployment> & { name: string }): Promise<Deployment>;
  getDeployment(name: string): Promise<Deployment>;

  createExecution(
    execution: Partial<Execution>,
    options?: { requestId?: string },
  ): Promise<Execution>;
  getExecution(executionId: string): Promise<Execution>;
  getJobStatus(executionId: string): Promise<JobStatus>;

  /** Raw UpdateJobStatus: execution_id and exactly one of start, progress, suspend, resume, stop. */
  updateJobStatus(request: { execution_id: string; [field: string]: unknown }): Promise<JobStatus>;
  /** WAITING (or UNKNOWN) -> RUNNING. */
  startJob(executionId: string, options?: RevisionOptions & { phase?: string }): Promise<JobStatus>;
  /** Reports progress (0..1) while RUNNING or CANCEL_REQUESTED. */
  reportProgress(
    executionId: string,
    progress: number,
    options?: RevisionOptions & { phase?: string },
  ): Promise<JobStatus>;
  /** Ends the job with SUCCESS, ERROR, CANCELED, or marks it UNKNOWN. */
  stopJob(
    executionId: string,
    cause: StopCause,
    options?: RevisionOptions & { message?: string },
  ): Promise<JobStatus>;
  cancelExecution(executionId: string, options?: { reason?: string }): Promise<JobStatus>;

  /** Appends lines (strings or entries); resolves with the seq of the last one. */
  appendLogs(executionId: string, entries: Array<string | LogEntryInput>): Promise<Int64>;

  /** Status events (heartbeats skipped); ends after the terminal event. Breaking out cancels the call. */
  watch(executionId: string, options?: WatchOptions): AsyncGenerator<ExecutionEvent, void, undefined>;
  /** Log lines one at a time, in seq order (heartbeats skipped). Breaking out cancels the call. */
  followLogs(
    executionId: string,
    options?: FollowLogsOptions,
  ): AsyncGenerator<LogEntry, void, undefined>;
}

export declare function createClient(address: string, options?: ClientOptions): TrackingClient;
