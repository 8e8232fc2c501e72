/**
 * Named error classes. Every error the project throws on purpose is one of these, so callers
 * (the HTTP layer, the CLI) can map it to a status code, an exit code or an OpenAI-style error
 * object without parsing messages. Messages say what is wrong and what to do about it.
 */

/** Base class: `code` is a stable machine-readable identifier. */
export class FailFastError extends Error {
  readonly code: string;
  constructor(message: string, code: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A configuration value (environment variable or JSON config file) is invalid. */
export class ConfigError extends FailFastError {
  /** The environment variable or JSON key that holds the bad value. */
  readonly key: string;
  constructor(key: string, message: string, options?: ErrorOptions) {
    super(`${key}: ${message}`, "invalid_config", options);
    this.key = key;
  }
}

/** A model directory or one of its files is missing, unreadable or inconsistent. */
export class ModelLoadError extends FailFastError {
  /** The file (or directory) that is at fault. */
  readonly path: string;
  constructor(path: string, message: string, options?: ErrorOptions) {
    super(`${path}: ${message}`, "model_load_error", options);
    this.path = path;
  }
}

/** A client request is malformed or out of range; `param` names the offending field. */
export class InvalidRequestError extends FailFastError {
  readonly param: string | null;
  constructor(message: string, param: string | null = null, code = "invalid_request") {
    super(message, code);
    this.param = param;
  }
}

/** Inputs handed to the WebAssembly policy core are inconsistent (would corrupt its memory). */
export class PolicyInputError extends FailFastError {
  constructor(message: string) {
    super(message, "policy_input_error");
  }
}

/** An inference backend failed to start or to run a forward pass. */
export class InferenceError extends FailFastError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, "inference_error", options);
  }
}

/** The server is at its concurrency and queue limits; retry later. */
export class OverloadedError extends FailFastError {
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number) {
    super(message, "overloaded");
    this.retryAfterSeconds = retryAfterSeconds;
  }
}
