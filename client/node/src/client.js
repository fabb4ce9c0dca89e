// A small promise / async-iterator wrapper around tracking.v1.TrackingService.
//
// The protos are loaded at run time from protos/ at the root of the repository
// (override with the `protoDir` option). Messages come back as plain objects
// with the proto field names (snake_case), 64-bit integers as strings, enums as
// their names (e.g. "RUNNING_STATUS_SUCCESS"), unset fields filled with their
// defaults, and the name of the set member of each oneof in a virtual field.

import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Directory holding tracking/v1/*.proto (the repository's protos/). */
export const DEFAULT_PROTO_DIR = path.resolve(HERE, '..', '..', '..', 'protos');

/** Options given to @grpc/proto-loader. */
export const LOADER_OPTIONS = Object.freeze({
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});

/** grpc status number -> name, e.g. 5 -> "NOT_FOUND". */
const STATUS_NAMES = Object.fromEntries(
  Object.entries(grpc.status)
    .filter(([, value]) => typeof value === 'number')
    .map(([name, value]) => [value, name]),
);

/**
 * A failed call: `code` is the gRPC status number (e.g. 5), `codeName` its
 * name (e.g. "NOT_FOUND"), `details` the server's message, `metadata` the
 * trailing metadata (a google.rpc.Status with e.g. a BadRequest is in its
 * `grpc-status-details-bin` key).
 */
export class TrackingError extends Error {
  /**
   * @param {string} method
   * @param {{code?: number, details?: string, metadata?: grpc.Metadata, message?: string}} cause
   */
  constructor(method, cause) {
    const code = typeof cause.code === 'number' ? cause.code : grpc.status.UNKNOWN;
    const codeName = STATUS_NAMES[code] ?? 'UNKNOWN';
    const details = cause.details ?? cause.message ?? '';
    super(`${method}: ${codeName}: ${details}`, { cause });
    this.name = 'TrackingError';
    /** @type {number} */
    this.code = code;
    /** @type {string} */
    this.codeName = codeName;
    /** @type {string} */
    this.details = details;
    /** @type {grpc.Metadata | undefined} */
    this.metadata = cause.metadata;
    /** @type {string} */
    this.method = method;
  }
}

/** @param {string} method @param {any} err */
function wrapError(method, err) {
  return err instanceof TrackingError ? err : new TrackingError(method, err ?? {});
}

/** Accepts "SUCCESS" as well as "RUNNING_STATUS_SUCCESS" (or a number). */
function runningStatus(value) {
  if (typeof value === 'string' && !value.startsWith('RUNNING_STATUS_')) {
    return `RUNNING_STATUS_${value.toUpperCase()}`;
  }
  return value;
}

/** Loaded service constructors, per proto directory. */
const serviceCache = new Map();

/** @param {string} protoDir */
function loadService(protoDir) {
  let Service = serviceCache.get(protoDir);
  if (!Service) {
    const definition = protoLoader.loadSync('tracking/v1/tracking_service.proto', {
      ...LOADER_OPTIONS,
      // google/protobuf/*.proto (timestamp, struct, ...) are resolved from the
      // copies bundled with proto-loader / protobufjs.
      includeDirs: [protoDir],
    });
    Service = grpc.loadPackageDefinition(definition).tracking.v1.TrackingService;
    serviceCache.set(protoDir, Service);
  }
  return Service;
}

/**
 * Connects to a tracking server.
 *
 * @param {string} address host:port
 * @param {object} [options]
 * @param {string} [options.token] bearer token, sent as `authorization: Bearer <token>`
 * @param {grpc.ChannelCredentials} [options.credentials] default: insecure (plaintext)
 * @param {string} [options.protoDir] directory holding tracking/v1/*.proto
 * @param {number} [options.timeoutMs] deadline of each unary call (default: none)
 * @param {grpc.ChannelOptions} [options.channelOptions]
 */
export function createClient(address, options = {}) {
  const {
    token,
    credentials = grpc.credentials.createInsecure(),
    protoDir = DEFAULT_PROTO_DIR,
    timeoutMs,
    channelOptions = {},
  } = options;
  const Service = loadService(protoDir);
  const stub = new Service(address, credentials, channelOptions);

  function metadata() {
    const md = new grpc.Metadata();
    if (token) md.set('authorization', `Bearer ${token}`);
    return md;
  }

  /**
   * Calls a unary RPC by its method name (e.g. "GetExecution").
   * @param {string} method
   * @param {object} request
   * @returns {Promise<any>}
   */
  function call(method, request) {
    if (typeof stub[method] !== 'function') {
      return Promise.reject(new TypeError(`no such RPC: ${method}`));
    }
    const callOptions = timeoutMs ? { deadline: Date.now() + timeoutMs } : {};
    return new Promise((resolve, reject) => {
      stub[method](request, metadata(), callOptions, (err, response) => {
        if (err) reject(wrapError(method, err));
        else resolve(response);
      });
    });
  }

  /**
   * Runs a server-streaming RPC and yields its messages; breaking out of the
   * loop cancels the call.
   * @param {string} method
   * @param {object} request
   */
  async function* stream(method, request) {
    const callStream = stub[method](request, metadata());
    let finished = false;
    try {
      for await (const message of callStream) yield message;
      finished = true;
    } catch (err) {
      finished = true;
      throw wrapError(method, err);
    } finally {
      if (!finished) {
        callStream.on('error', () => {}); // the CANCELLED status that follows
        callStream.cancel();
      }
    }
  }

  const updateJobStatus = (request) =>
    call('UpdateJobStatus', request).then((r) => r.job_status);

  /** @param {object} [opts] */
  const expected = (opts = {}) =>
    opts.expectedRevision === undefined ? {} : { expected_revision: opts.expectedRevision };

  return {
    call,
    close: () => stub.close(),
    /** The underlying @grpc/grpc-js client. */
    raw: stub,

    createDeployment: (deployment) =>
      call('CreateDeployment', { deployment }).then((r) => r.deployment),
    getDeployment: (name) => call('GetDeployment', { name }).then((r) => r.deployment),

    createExecution: (execution, opts = {}) =>
      call('CreateExecution', { execution, request_id: opts.requestId ?? '' }).then(
        (r) => r.execution,
      ),
    getExecution: (executionId) =>
      call('GetExecution', { execution_id: executionId }).then((r) => r.execution),
    getJobStatus: (executionId) =>
      call('GetJobStatus', { execution_id: executionId }).then((r) => r.job_status),

    updateJobStatus,
    startJob: (executionId, opts = {}) =>
      updateJobStatus({
        execution_id: executionId,
        start: { phase: opts.phase ?? '' },
        ...expected(opts),
      }),
    reportProgress: (executionId, progress, opts = {}) =>
      updateJobStatus({
        execution_id: executionId,
        progress: { progress, phase: opts.phase ?? '' },
        ...expected(opts),
      }),
    stopJob: (executionId, cause, opts = {}) =>
      updateJobStatus({
        execution_id: executionId,
        stop: { cause: runningStatus(cause), message: opts.message ?? '' },
        ...expected(opts),
      }),
    cancelExecution: (executionId, opts = {}) =>
      call('CancelExecution', { execution_id: executionId, reason: opts.reason ?? '' }).then(
        (r) => r.job_status,
      ),

    appendLogs: (executionId, entries) =>
      call('AppendLogs', {
        execution_id: executionId,
        entries: entries.map((e) => (typeof e === 'string' ? { message: e } : e)),
      }).then((r) => r.last_seq),

    /**
     * Status events of one execution: a snapshot first (unless afterRevision
     * is given), then each change; ends after the terminal event.
     */
    async *watch(executionId, opts = {}) {
      const request = { execution_id: executionId, after_revision: opts.afterRevision ?? 0 };
      for await (const message of stream('WatchStatus', request)) {
        if (message.event) yield message.event;
      }
    },

    /**
     * Log lines of one execution, one at a time in seq order: the stored ones,
     * then (with follow, the default) new ones until the execution has ended.
     */
    async *followLogs(executionId, opts = {}) {
      const request = {
        execution_id: executionId,
        after_seq: opts.afterSeq ?? 0,
        tail: opts.tail ?? 0,
        stream: opts.stream ?? 'LOG_STREAM_UNSPECIFIED',
        follow: opts.follow ?? true,
      };
      for await (const message of stream('StreamLogs', request)) {
        yield* message.entries;
      }
    },
  };
}

export { grpc };
