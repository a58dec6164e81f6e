import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ArgusError, OverloadedError } from '../common/errors';
import { httpStatusOf } from './error-status';

/**
 * Every error leaves as `{"error": "..."}` with the status from `httpStatusOf`. Client mistakes
 * are 4xx with a message that names the problem; anything unexpected is logged and answered with
 * a generic 500 that leaks nothing.
 */
@Catch()
export class ErrorFilter implements ExceptionFilter {
  private readonly log = new Logger('http');

  catch(err: unknown, host: ArgumentsHost): void {
    sendError(host.switchToHttp().getResponse<FastifyReply>(), err, this.log);
  }
}

/**
 * Answers `err` the way the filter does. Routes served straight by Fastify (the predict routes,
 * outside Nest's router) call it so their errors look exactly like every other route's.
 */
export function sendError(reply: FastifyReply, err: unknown, log: Logger): void {
  if (err instanceof OverloadedError)
    void reply.header('Retry-After', String(err.retryAfterSeconds));
  void reply.status(httpStatusOf(err)).send(errorBody(err, log));
}

export function errorBody(err: unknown, log: Logger): Record<string, unknown> {
  const status = httpStatusOf(err);
  if (err instanceof ArgusError) return { error: err.message, ...(err.details ?? {}) };
  if (err instanceof HttpException) {
    if (status === 404) return { error: 'no such route' };
    const res = err.getResponse();
    const message =
      typeof res === 'string' ? res : ((res as { message?: unknown }).message ?? err.message);
    return {
      error: Array.isArray(message)
        ? message.join('; ')
        : typeof message === 'string'
          ? message
          : err.message,
    };
  }
  if (status < 500) {
    const code = (err as { code?: string }).code;
    if (code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      return { error: 'request body is larger than the limit' };
    if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return {
        error:
          'unsupported Content-Type; send application/json (or application/octet-stream for model uploads and binary tensor data)',
      };
    }
    if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY')
      return { error: 'request body is empty; send a JSON object' };
    if (err instanceof SyntaxError)
      return { error: `request body is not valid JSON: ${err.message}` };
    return { error: (err as Error).message ?? 'bad request' };
  }
  log.error(`unhandled error: ${(err as Error)?.stack ?? String(err)}`);
  return { error: 'internal error' };
}
