/**
 * Typed domain errors. Services throw these; the HTTP layer maps `kind` to a status code in one
 * place (`src/http/error-filter.ts`) and the CLI maps them to exit codes. Nothing below the
 * controllers knows about HTTP.
 */
export type ErrorKind =
  | 'invalid' // the caller sent something wrong (400)
  | 'unauthenticated' // 401
  | 'forbidden' // 403
  | 'not_found' // 404
  | 'conflict' // 409
  | 'too_large' // 413
  | 'unsupported' // 501
  | 'overloaded' // 503 with Retry-After
  | 'unavailable'; // 503

export class ArgusError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class InvalidInputError extends ArgusError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('invalid', message, details);
  }
}

export class ModelNotFoundError extends ArgusError {
  constructor(model: string, version?: number | string) {
    super(
      'not_found',
      version === undefined
        ? `model '${model}' not found`
        : `model '${model}' version ${version} not found`,
    );
  }
}

export class NotFoundError extends ArgusError {
  constructor(message: string) {
    super('not_found', message);
  }
}

export class ConflictError extends ArgusError {
  constructor(message: string) {
    super('conflict', message);
  }
}

export class ModelNotReadyError extends ArgusError {
  constructor(model: string, version: number) {
    super('unavailable', `model '${model}' version ${version} is not ready`);
  }
}

export class OverloadedError extends ArgusError {
  constructor(
    message: string,
    readonly retryAfterSeconds = 1,
  ) {
    super('overloaded', message);
  }
}

export class UnsupportedError extends ArgusError {
  constructor(message: string) {
    super('unsupported', message);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
