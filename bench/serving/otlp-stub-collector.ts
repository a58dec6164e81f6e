import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The smallest OTLP/HTTP trace receiver that lets an exporter do its real work: it accepts
 * `POST /v1/traces` (protobuf or JSON), reads the whole body, and answers 200 with an empty
 * `ExportTraceServiceResponse`. The traced benchmark targets export here, so span serialization
 * and the HTTP export are part of the measured server cost; nothing is decoded or stored.
 */
export interface CollectorCounts {
  /** Export requests answered with 200. */
  exports: number;
  bytes: number;
  /** Requests to any other path or method (404): a misconfigured exporter shows up here. */
  rejected: number;
}

export interface StubCollector {
  /** Base URL, for `OTEL_EXPORTER_OTLP_ENDPOINT` (the exporter appends `/v1/traces`). */
  url: string;
  counts(): CollectorCounts;
  close(): Promise<void>;
}

export async function startStubCollector(): Promise<StubCollector> {
  const counts: CollectorCounts = { exports: 0, bytes: 0, rejected: 0 };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    req.on('end', () => {
      if (req.method !== 'POST' || req.url?.split('?')[0] !== '/v1/traces') {
        counts.rejected++;
        res.writeHead(404).end();
        return;
      }
      counts.exports++;
      counts.bytes += bytes;
      const json = req.headers['content-type']?.includes('json') ?? false;
      // An empty message is a valid ExportTraceServiceResponse in both encodings.
      res
        .writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' })
        .end(json ? '{}' : '');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    counts: () => ({ ...counts }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
