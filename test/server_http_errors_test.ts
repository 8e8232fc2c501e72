import assert from "node:assert/strict";
import { InvalidRequestError, OverloadedError } from "../src/errors.ts";
import { errorBody, errorResponse, HttpError, statusOf } from "../src/server/http-errors.ts";

Deno.test("http errors: each error maps to its status and an OpenAI-style body", async () => {
  assert.equal(statusOf(new InvalidRequestError("bad", "temperature")), 400);
  assert.equal(statusOf(new OverloadedError("busy", 3)), 429);
  assert.equal(statusOf(new HttpError(413, "too big", "body_too_large")), 413);
  assert.equal(statusOf(new Error("boom")), 500);
  assert.deepEqual(
    errorBody(new InvalidRequestError("bad", "temperature")).error.param,
    "temperature",
  );
  assert.equal(errorBody(new OverloadedError("busy", 3)).error.type, "rate_limit_error");
  assert.deepEqual(errorBody("a string"), {
    error: { message: "a string", type: "server_error", param: null, code: null },
  });
  const r = errorResponse(new OverloadedError("busy", 3));
  assert.equal(r.status, 429);
  assert.equal(r.headers.get("retry-after"), "3");
  assert.equal(r.headers.get("content-type"), "application/json");
  assert.equal((await r.json()).error.message, "busy");
  const unavailable = new HttpError(503, "loading", "not_ready", {
    headers: { "retry-after": "5" },
  });
  assert.equal(unavailable.type, "server_error");
  assert.equal(errorResponse(unavailable).headers.get("retry-after"), "5");
});
