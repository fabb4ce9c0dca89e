// Failed calls as one error type: the server's status code, its message, and the fields a
// google.rpc.BadRequest names (INVALID_ARGUMENT), whatever the transport.

import { Code, ConnectError } from "@connectrpc/connect";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";

/** One bad field of a request, as the server named it (google.rpc.BadRequest.FieldViolation). */
export interface FieldViolation {
  /** The field's path in the request, e.g. `progress` or `execution.labels`. */
  readonly field: string;
  readonly description: string;
}

const BAD_REQUEST = "google.rpc.BadRequest";

/**
 * A failed call. `code` is the status code (`Code.InvalidArgument`, the same numbers as
 * gRPC's), `codeName` its gRPC name (`"INVALID_ARGUMENT"`), `rawMessage` the server's
 * message, `fieldViolations` the bad fields of an INVALID_ARGUMENT. Every method of a
 * TrackingClient rejects (or, for streams, throws while iterating) with one.
 */
export class TrackingError extends ConnectError {
  override name = "TrackingError";
  readonly codeName: string;
  readonly fieldViolations: readonly FieldViolation[];

  private constructor(error: ConnectError) {
    super(error.rawMessage, error.code, error.metadata, undefined, error.cause ?? error);
    this.details = error.details;
    this.isWireError = error.isWireError;
    this.codeName = codeName(error.code);
    this.fieldViolations = decodeFieldViolations(error);
  }

  // ConnectError's instanceof accepts any error that looks like one; this one wants its own.
  static override [Symbol.hasInstance](value: unknown): boolean {
    return (
      typeof value === "object" &&
      value !== null &&
      (Object.prototype.isPrototypeOf.call(TrackingError.prototype, value) ||
        (value as { name?: unknown }).name === "TrackingError")
    );
  }

  /** The TrackingError of any thrown value (a ConnectError, an Error, anything else). */
  static override from(reason: unknown, code?: Code): TrackingError {
    if (reason instanceof TrackingError) return reason;
    return new TrackingError(ConnectError.from(reason, code));
  }
}

/** `Code.InvalidArgument` -> `"INVALID_ARGUMENT"`. */
export function codeName(code: Code): string {
  const name = Code[code] as string | undefined;
  if (name === undefined) return "UNKNOWN";
  return name.replace(/(?<!^)(?=[A-Z])/g, "_").toUpperCase();
}

function decodeFieldViolations(error: ConnectError): FieldViolation[] {
  const violations: FieldViolation[] = [];
  for (const detail of error.details) {
    if ("type" in detail && detail.type === BAD_REQUEST) {
      violations.push(...readBadRequest(detail.value));
    }
  }
  return violations;
}

// google.rpc.BadRequest { repeated FieldViolation field_violations = 1; }
// FieldViolation { string field = 1; string description = 2; ... }
// Read straight from the wire: the googleapis protos are not part of this package.
function readBadRequest(bytes: Uint8Array): FieldViolation[] {
  const violations: FieldViolation[] = [];
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [fieldNo, wireType] = reader.tag();
    if (fieldNo === 1 && wireType === WireType.LengthDelimited) {
      violations.push(readFieldViolation(reader.bytes()));
    } else {
      reader.skip(wireType, fieldNo);
    }
  }
  return violations;
}

function readFieldViolation(bytes: Uint8Array): FieldViolation {
  let field = "";
  let description = "";
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [fieldNo, wireType] = reader.tag();
    if (fieldNo === 1 && wireType === WireType.LengthDelimited) field = reader.string();
    else if (fieldNo === 2 && wireType === WireType.LengthDelimited) description = reader.string();
    else reader.skip(wireType, fieldNo);
  }
  return { field, description };
}
