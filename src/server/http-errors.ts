/**
 * Mapping of errors to HTTP: status codes and OpenAI-style bodies
 * `{"error": {"message", "type", "param", "code"}}`.
 */
import { FailFastError, InvalidRequestError, OverloadedError } from "../errors.ts";

/** An error with an explicit HTTP status (auth, body size, timeout, not ready, not found). */
export class HttpError extends FailFastError {
  readonly status: number;
  readonly type: string;
  readonly param: string | null;
  readonly headers: Record<string, string>;
  constructor(
    status: number,
    message: string,
    code: string,
    options: { type?: string; param?: string | null; headers?: Record<string, string> } = {},
  ) {
    super(message, code);
    this.status = status;
    this.type = options.type ?? (status >= 500 ? "server_error" : "invalid_request_error");
    this.param = options.param ?? null;
    this.headers = options.headers ?? {};
  }
}

/** HTTP status of an error. */
export function statusOf(e: unknown): number {
  if (e instanceof HttpError) return e.status;
  if (e instanceof OverloadedError) return 429;
  if (e instanceof InvalidRequestError) return e.code === "model_not_found" ? 404 : 400;
  return 500;
}

/** Extra response headers of an error (`Retry-After` for 429 and 503). */
export function headersOf(e: unknown): Record<string, string> {
  if (e instanceof HttpError) return e.headers;
  if (e instanceof OverloadedError) return { "retry-after": String(e.retryAfterSeconds) };
  return {};
}

/** OpenAI-style error body. Unexpected errors keep their message but not their stack. */
export function errorBody(e: unknown): {
  error: { message: string; type: string; param: string | null; code: string | null };
} {
  const err = e instanceof Error ? e : new Error(String(e));
  let type = "server_error";
  let param: string | null = null;
  if (e instanceof HttpError) {
    type = e.type;
    param = e.param;
  } else if (e instanceof InvalidRequestError) {
    type = "invalid_request_error";
    param = e.param;
  } else if (e instanceof OverloadedError) {
    type = "rate_limit_error";
  }
  return {
    error: {
      message: err.message,
      type,
      param,
      code: err instanceof FailFastError ? err.code : null,
    },
  };
}

/** A JSON error response. */
export function errorResponse(e: unknown, extraHeaders: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(errorBody(e)), {
    status: statusOf(e),
    headers: { "content-type": "application/json", ...headersOf(e), ...extraHeaders },
  });
}
