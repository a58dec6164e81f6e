import { createReadStream } from 'node:fs';
import { ArgusError, InvalidInputError } from '../common/errors';
import { CsvRecordParser } from '../common/csv';
import { FeedbackRecord } from '../predictions/prediction-record';
import {
  FeedbackService,
  InvalidFeedbackError,
  MAX_FEEDBACK_ROWS,
} from '../predictions/feedback/feedback.service';
import { ProgressBar } from './progress';
import { fileFormat, fileSize } from './row-source';

/**
 * `argus feedback --file labels.csv|labels.jsonl`: ground truth in bulk, with exactly the checks of
 * `POST /v1/feedback` (FeedbackService), applied in chunks of at most 10 000 rows.
 *
 * The whole file is validated before anything is written, so a file with a bad row writes
 * nothing: the first pass validates every chunk and collects every bad row with its file line;
 * only a clean file gets the second pass, which validates each chunk again (labels are stamped
 * with the time of the write) and writes it. Memory stays flat: the file is streamed both times;
 * only the set of prediction ids is kept, to refuse an id given twice anywhere in the file (as one
 * request refuses duplicates).
 *
 * Formats:
 * - CSV with a header: `prediction_id` and `label` or `value` (or both columns, one filled per
 *   row), optionally `ts` (ms since the epoch or an ISO date) and `source`. Cells are text, so a
 *   label stays exactly as written ("007" is not 7); `value` cells are numbers.
 * - JSONL: one JSON object per line, as the elements of the HTTP body.
 */

export interface FeedbackFileOptions {
  file: string;
  /** Rows per validation and write (at most 10 000, the API's limit). */
  chunkRows?: number;
  /** `source` of rows that do not name one. */
  source?: string;
  /** Progress label on a TTY. */
  progress?: boolean;
}

export interface FeedbackFileSummary {
  file: string;
  accepted: number;
  seconds: number;
}

export interface FeedbackLineProblem {
  line: number;
  prediction_id: string | null;
  error: string;
}

const MAX_SHOWN_PROBLEMS = 50;

/** Some rows of the file are invalid; nothing was written. Lists the lines. */
export class InvalidFeedbackFileError extends ArgusError {
  constructor(
    file: string,
    readonly problems: FeedbackLineProblem[],
    readonly total: number,
  ) {
    const shown = problems
      .slice(0, MAX_SHOWN_PROBLEMS)
      .map((p) => `  line ${p.line}: ${p.error}${p.prediction_id ? ` (${p.prediction_id})` : ''}`);
    const more =
      problems.length > MAX_SHOWN_PROBLEMS
        ? [`  … and ${problems.length - MAX_SHOWN_PROBLEMS} more`]
        : [];
    super(
      'invalid',
      [
        `${problems.length} of ${total} feedback rows in ${file} are invalid; nothing was written:`,
        ...shown,
        ...more,
      ].join('\n'),
    );
  }
}

/** One row of the file: the value handed to FeedbackService, and where it came from. */
export interface FeedbackFileRow {
  line: number;
  /** As one element of the HTTP body: an object for good rows, anything for bad ones. */
  body: unknown;
  /** A problem found while reading (bad JSON), reported as is. */
  problem?: string;
}

const CSV_COLUMNS = ['prediction_id', 'label', 'value', 'ts', 'source'] as const;
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

function csvRow(header: string[], cells: string[], line: number): FeedbackFileRow {
  if (cells.length !== header.length) {
    return {
      line,
      body: undefined,
      problem: `${cells.length} fields, the header has ${header.length}`,
    };
  }
  const row: Record<string, unknown> = {};
  header.forEach((column, i) => {
    const cell = cells[i];
    // An empty cell is an absent field: `label` and `value` columns may both exist.
    if (cell === '') return;
    if (column === 'value' || column === 'ts') {
      const trimmed = cell.trim();
      row[column] = NUMBER.test(trimmed) ? Number(trimmed) : cell;
    } else row[column] = cell;
  });
  return { line, body: row };
}

function checkCsvHeader(header: string[], file: string): void {
  const unknown = header.filter((h) => !(CSV_COLUMNS as readonly string[]).includes(h));
  const duplicated = header.filter((h, i) => header.indexOf(h) !== i);
  const problems: string[] = [];
  if (unknown.length > 0) problems.push(`unknown column(s) ${unknown.join(', ')}`);
  if (duplicated.length > 0) problems.push(`repeated column(s) ${duplicated.join(', ')}`);
  if (!header.includes('prediction_id')) problems.push('no prediction_id column');
  if (!header.includes('label') && !header.includes('value'))
    problems.push('no label or value column');
  if (problems.length > 0) {
    throw new InvalidInputError(
      `${file}:1: ${problems.join('; ')}: the header must name prediction_id, label and/or value, ` +
        `and optionally ts and source`,
    );
  }
}

/**
 * Streams the rows of a feedback file with their line numbers. `onBytes` reports progress.
 * A CSV header problem is thrown (nothing in the file can be read without it); row problems are
 * returned with the row.
 */
export async function* readFeedbackRows(
  file: string,
  onBytes?: (bytes: number) => void,
): AsyncGenerator<FeedbackFileRow> {
  const format = fileFormat(file);
  const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 });
  let bytes = 0;
  let rest = '';
  let line = 0;
  const ready: FeedbackFileRow[] = [];

  // CSV: the parser is fed one physical line at a time, so each record knows the line it starts
  // on even when a quoted label spans lines.
  const parser = new CsvRecordParser();
  let header: string[] | undefined;
  let recordStart = 1;
  let emitted = false;
  const onRecord = (cells: string[]) => {
    emitted = true;
    if (header === undefined) {
      header = cells.map((h) => h.trim());
      checkCsvHeader(header, file);
      return;
    }
    ready.push(csvRow(header, cells, recordStart));
  };

  const takeLine = (text: string, last: boolean) => {
    line++;
    if (format === 'jsonl') {
      if (text.trim() === '') return;
      try {
        ready.push({ line, body: JSON.parse(text) });
      } catch {
        ready.push({ line, body: undefined, problem: 'not valid JSON' });
      }
      return;
    }
    emitted = false;
    parser.push(last ? text : `${text}\n`, onRecord);
    if (emitted || (recordStart === line && text.trim() === '')) recordStart = line + 1;
  };

  for await (const chunk of stream) {
    const text = chunk as string;
    bytes += Buffer.byteLength(text);
    onBytes?.(bytes);
    const parts = (rest + text).split('\n');
    rest = parts.pop() ?? '';
    for (const part of parts) takeLine(part, false);
    yield* ready.splice(0);
  }
  if (rest !== '') takeLine(rest, true);
  if (format === 'csv') {
    parser.end(onRecord);
    if (header === undefined) throw new InvalidInputError(`${file} is empty: no CSV header`);
  }
  yield* ready.splice(0);
}

function idOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const id = (body as { prediction_id?: unknown }).prediction_id;
  return typeof id === 'string' ? id.toLowerCase() : undefined;
}

/**
 * Validates (and, when `write` is given, writes) the file chunk by chunk. Returns the problems
 * found, with file lines, and the number of rows.
 */
async function pass(
  service: FeedbackService,
  options: Required<Pick<FeedbackFileOptions, 'file' | 'chunkRows' | 'source'>>,
  progress: ProgressBar | undefined,
  write?: (records: FeedbackRecord[]) => Promise<void>,
): Promise<{ rows: number; written: number; problems: FeedbackLineProblem[] }> {
  const problems: FeedbackLineProblem[] = [];
  const firstLine = new Map<string, number>();
  let rows = 0;
  let written = 0;
  let chunk: FeedbackFileRow[] = [];

  const flush = async () => {
    if (chunk.length === 0) return;
    const rowsOfChunk = chunk;
    chunk = [];
    try {
      const records = await service.validate(
        rowsOfChunk.map((r) => r.body),
        options.source,
      );
      if (write) {
        await write(records);
        written += records.length;
      }
    } catch (err) {
      if (!(err instanceof InvalidFeedbackError)) throw err;
      if (write) {
        // The store changed since the validation pass (a prediction dropped by retention, say).
        const first = err.problems[0];
        throw new ArgusError(
          'conflict',
          `${written} rows were written, then line ${rowsOfChunk[first.index].line} became ` +
            `invalid while writing (${first.error}); the rest of the file was not written`,
        );
      }
      for (const p of err.problems) {
        problems.push({
          line: rowsOfChunk[p.index].line,
          prediction_id: p.prediction_id,
          error: p.error,
        });
      }
    }
  };

  for await (const row of readFeedbackRows(options.file, (b) =>
    progress?.update(b, `${rows} rows`),
  )) {
    rows++;
    if (row.problem !== undefined) {
      problems.push({ line: row.line, prediction_id: null, error: row.problem });
      continue;
    }
    // Duplicates anywhere in the file, as one request refuses duplicates among its rows.
    const id = idOf(row.body);
    if (id !== undefined) {
      const seen = firstLine.get(id);
      if (seen !== undefined) {
        problems.push({ line: row.line, prediction_id: id, error: `duplicate of line ${seen}` });
        continue;
      }
      firstLine.set(id, row.line);
    }
    chunk.push(row);
    if (chunk.length >= options.chunkRows) await flush();
  }
  await flush();
  problems.sort((a, b) => a.line - b.line);
  return { rows, written, problems };
}

/**
 * Validates the whole file, then writes it in chunks through `write` (the store). Throws
 * InvalidFeedbackFileError (listing lines) when any row is bad, without writing anything.
 */
export async function importFeedbackFile(
  service: FeedbackService,
  write: (records: FeedbackRecord[]) => Promise<void>,
  options: FeedbackFileOptions,
): Promise<FeedbackFileSummary> {
  const chunkRows = options.chunkRows ?? MAX_FEEDBACK_ROWS;
  if (!Number.isInteger(chunkRows) || chunkRows < 1 || chunkRows > MAX_FEEDBACK_ROWS) {
    throw new InvalidInputError(`chunk size must be an integer in [1, ${MAX_FEEDBACK_ROWS}]`);
  }
  const started = Date.now();
  const settings = { file: options.file, chunkRows, source: options.source ?? 'cli' };
  const total = fileSize(options.file);
  const bar = (label: string) =>
    options.progress === false ? undefined : new ProgressBar(label, total);

  const checkBar = bar('validate');
  const checked = await pass(service, settings, checkBar);
  checkBar?.finish(`${checked.rows} rows`);
  if (checked.problems.length > 0) {
    throw new InvalidFeedbackFileError(options.file, checked.problems, checked.rows);
  }
  if (checked.rows === 0) throw new InvalidInputError(`${options.file} holds no feedback rows`);

  const writeBar = bar('write');
  const done = await pass(service, settings, writeBar, write);
  writeBar?.finish(`${done.written} rows`);
  return { file: options.file, accepted: done.written, seconds: (Date.now() - started) / 1000 };
}
