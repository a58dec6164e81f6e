import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const REQUEST_ID = /^[A-Za-z0-9._:@/-]{1,128}$/;

/**
 * Fastify's `genReqId`: honour a well-formed incoming `x-request-id`, otherwise mint a UUID. A
 * malformed header is replaced rather than echoed, so hostile values never reach logs or storage.
 */
export function requestIdFor(req: IncomingMessage): string {
  const header = req.headers['x-request-id'];
  const value = Array.isArray(header) ? header[0] : header;
  return value && REQUEST_ID.test(value) ? value : randomUUID();
}
