import { ArgusError, ErrorKind } from '../common/errors';

/** The one mapping from domain errors to HTTP status codes. */
const STATUS: Record<ErrorKind, number> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  unsupported: 501,
  overloaded: 503,
  unavailable: 503,
};

interface HttpLikeError {
  statusCode?: unknown;
  status?: unknown;
  getStatus?: () => number;
}

export function httpStatusOf(err: unknown): number {
  if (err instanceof ArgusError) return STATUS[err.kind];
  const e = err as HttpLikeError | null;
  if (e && typeof e.getStatus === 'function') return e.getStatus();
  // Fastify's own errors (body too large, bad JSON, unsupported media type) carry statusCode.
  if (e && typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 600)
    return e.statusCode;
  return 500;
}
