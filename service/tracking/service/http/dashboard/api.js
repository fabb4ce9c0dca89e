// The server, as the dashboard reaches it: Connect JSON calls, the sign-in session, and
// server-sent event streams that resume by themselves.

const SERVICE = "/tracking.v1.TrackingService/";
// Codes a reconnect may cure: the server is draining or restarting, or the page fell behind.
const RETRYABLE = new Set(["unavailable", "resource_exhausted"]);
const REOPEN_MS = 1000;

export class ApiError extends Error {
  constructor(code, message, violations = []) {
    super(message || code);
    this.code = code;
    this.violations = violations;
  }
}

function errorOf(body, status) {
  const code = body?.code || (status === 401 ? "unauthenticated" : "unknown");
  const violations = [];
  for (const detail of body?.details || []) {
    violations.push(...(detail.debug?.fieldViolations || []));
  }
  const error = new ApiError(code, body?.message || `HTTP ${status}`, violations);
  if (code === "unauthenticated") window.dispatchEvent(new CustomEvent("tracking:signed-out"));
  return error;
}

async function send(url, init) {
  let response;
  try {
    response = await fetch(url, { credentials: "same-origin", ...init });
  } catch {
    throw new ApiError("unavailable", "the server cannot be reached");
  }
  const text = await response.text();
  let body = {};
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = { message: text.slice(0, 200) };
  }
  if (!response.ok) throw errorOf(body, response.status);
  return body;
}

// One unary RPC: `request` in proto-JSON, the response likewise.
export function call(method, request = {}) {
  return send(SERVICE + method, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(request),
  });
}

export const session = {
  get: () => send("/auth/session", { method: "GET" }),
  signIn: (token) =>
    send("/auth/session", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token }),
    }),
  signOut: () => send("/auth/session", { method: "DELETE" }),
};

// A stream refused at its start answered with an HTTP status and a JSON error, which
// EventSource does not show: ask again with fetch to read it.
async function whyRefused(url) {
  const abort = new AbortController();
  try {
    const response = await fetch(url, {
      credentials: "same-origin",
      headers: { accept: "application/json" },
      signal: abort.signal,
    });
    if (response.ok) return null; // it opens now
    return errorOf(await response.json().catch(() => ({})), response.status);
  } catch {
    return new ApiError("unavailable", "the server cannot be reached");
  } finally {
    abort.abort();
  }
}

// Opens `/events/<name>?<params>`. Handlers: data(message), state("live" | "reconnecting"),
// end(), fail(ApiError). `resume(lastEventId, params)` gives the params that continue after
// the last event, for when the page has to open the stream again itself (EventSource
// resends Last-Event-ID only on the reconnects it makes on its own). Returns close().
export function stream(name, params, handlers) {
  const { data, state = () => {}, end = () => {}, fail = () => {}, resume } = handlers;
  let source = null;
  let last = "";
  let closed = false;
  let timer = 0;

  function close() {
    closed = true;
    clearTimeout(timer);
    source?.close();
  }

  function open(query) {
    const url = `/events/${name}?${new URLSearchParams(query)}`;
    source = new EventSource(url);
    source.onopen = () => state("live");
    source.onmessage = (event) => {
      if (event.lastEventId) last = event.lastEventId;
      data(JSON.parse(event.data));
    };
    source.addEventListener("end", () => {
      close();
      end();
    });
    source.addEventListener("error", async (event) => {
      if (closed) return;
      if (event.data) {
        // The server's `event: error`: a retryable one closes the connection and the
        // browser reconnects with Last-Event-ID; any other is final.
        const error = errorOf(JSON.parse(event.data), 0);
        if (RETRYABLE.has(error.code)) return state("reconnecting");
        close();
        return fail(error);
      }
      if (source.readyState !== EventSource.CLOSED) return state("reconnecting");
      state("reconnecting");
      const error = await whyRefused(url);
      if (closed) return;
      if (error && !RETRYABLE.has(error.code)) {
        close();
        return fail(error);
      }
      timer = setTimeout(() => open(last && resume ? resume(last, params) : params), REOPEN_MS);
    });
  }

  open(params);
  return close;
}
