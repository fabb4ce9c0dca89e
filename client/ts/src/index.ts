// tracking-client: the TrackingService client, the same in Node.js and browsers. Transports
// live in "tracking-client/node" (gRPC or Connect) and "tracking-client/web" (Connect).

export { Code } from "@connectrpc/connect";
export { create, fromJson, toJson } from "@bufbuild/protobuf";
export {
  createTrackingClient,
  type StreamLogsInit,
  type StreamOptions,
  type TrackingClient,
  type TrackingClientOptions,
  type WatchStatusInit,
} from "./client.js";
export { bearerToken } from "./auth.js";
export { traceParent } from "./trace.js";
export { codeName, type FieldViolation, TrackingError } from "./errors.js";
export { DEFAULT_RETRY, isFinal, type RetryPolicy } from "./resume.js";
export * from "./gen/tracking/v1/auth_pb.js";
export * from "./gen/tracking/v1/deployment_pb.js";
export * from "./gen/tracking/v1/execution_pb.js";
export * from "./gen/tracking/v1/io_pb.js";
export * from "./gen/tracking/v1/metric_pb.js";
export * from "./gen/tracking/v1/status_pb.js";
export * from "./gen/tracking/v1/tracking_service_pb.js";
