import { createReadStream, statSync } from 'node:fs';
import { CsvRecordParser } from '../common/csv';
import { InvalidInputError } from '../common/errors';

/**
 * Streams rows from a CSV (header required) or JSONL file without holding the file in memory.
 * Each row comes back as either positional values or named values, with its 1-based line number
 * so errors can point at the line.
 */
export type SourceRow =
  { line: number; values: unknown[] } | { line: number; named: Record<string, unknown> };

export function fileFormat(path: string): 'csv' | 'jsonl' {
  if (/\.csv$/i.test(path)) return 'csv';
  if (/\.(jsonl|ndjson)$/i.test(path)) return 'jsonl';
  throw new InvalidInputError(`cannot tell the format of '${path}': use a .csv or .jsonl file`);
}

export function fileSize(path: string): number {
  return statSync(path).size;
}

function csvValue(raw: string): unknown {
  const t = raw.trim();
  if (t === '') return null;
  const n = Number(t);
  return Number.isNaN(n) && t !== 'NaN' ? raw : n;
}

/** Yields rows; `onBytes` reports progress in bytes read. */
export async function* readRows(
  path: string,
  onBytes?: (bytes: number) => void,
): AsyncGenerator<SourceRow> {
  const format = fileFormat(path);
  const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 });
  let bytes = 0;
  if (format === 'jsonl') {
    let rest = '';
    let line = 0;
    const parse = (text: string): SourceRow | undefined => {
      line++;
      if (text.trim() === '') return undefined;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        throw new InvalidInputError(`${path}:${line}: not valid JSON`);
      }
      if (Array.isArray(value)) return { line, values: value };
      if (value && typeof value === 'object')
        return { line, named: value as Record<string, unknown> };
      throw new InvalidInputError(`${path}:${line}: each line must be a JSON array or object`);
    };
    for await (const chunk of stream) {
      bytes += Buffer.byteLength(chunk as string);
      onBytes?.(bytes);
      const parts = (rest + (chunk as string)).split('\n');
      rest = parts.pop() ?? '';
      for (const p of parts) {
        const row = parse(p);
        if (row) yield row;
      }
    }
    const last = parse(rest);
    if (last) yield last;
    return;
  }
  const parser = new CsvRecordParser();
  let header: string[] | undefined;
  let line = 0;
  const ready: SourceRow[] = [];
  const emit = (rec: string[]) => {
    line++;
    if (!header) {
      header = rec.map((h) => h.trim());
      return;
    }
    if (rec.length !== header.length) {
      throw new InvalidInputError(
        `${path}:${line}: ${rec.length} fields, the header has ${header.length}`,
      );
    }
    const named: Record<string, unknown> = {};
    header.forEach((h, i) => (named[h] = csvValue(rec[i])));
    ready.push({ line, named });
  };
  for await (const chunk of stream) {
    bytes += Buffer.byteLength(chunk as string);
    onBytes?.(bytes);
    parser.push(chunk as string, emit);
    yield* ready.splice(0);
  }
  parser.end(emit);
  yield* ready.splice(0);
}
