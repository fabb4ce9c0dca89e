import type { Interceptor } from "@connectrpc/connect";

/** An interceptor that sends `authorization: Bearer <token>`. */
export function bearerToken(token: string): Interceptor {
  return (next) => (request) => {
    request.header.set("authorization", `Bearer ${token}`);
    return next(request);
  };
}
