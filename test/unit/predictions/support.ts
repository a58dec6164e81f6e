import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FeedbackRecord, PredictionRecord } from '../../../src/predictions/prediction-record';
import {
  PredictionLogLogger,
  PredictionLogStore,
} from '../../../src/predictions/prediction-writer';
import {
  nodeSpoolFileSystem,
  SpoolFileHandle,
  SpoolFileSystem,
} from '../../../src/predictions/spool';
import { StoreUnavailableError, StoreWriteError } from '../../../src/store/analytics-store';

/**
 * A real in-process store: keeps rows in memory and can be switched to fail (down), never answer
 * (hang) or refuse the data (refuse), like an unreachable, stuck or schema-mismatched ClickHouse.
 */
export type StoreMode = 'up' | 'down' | 'hang' | 'refuse';

export class InMemoryStore implements PredictionLogStore {
  mode: StoreMode = 'up';
  readonly predictions: PredictionRecord[] = [];
  readonly feedback: FeedbackRecord[] = [];
  /** Row count of every insert the store accepted, in order. */
  readonly acceptedBatches: number[] = [];
  calls = 0;

  async insertPredictions(rows: PredictionRecord[]): Promise<void> {
    await this.insert(rows, this.predictions);
  }

  async insertFeedback(rows: FeedbackRecord[]): Promise<void> {
    await this.insert(rows, this.feedback);
  }

  private insert<T>(rows: T[], into: T[]): Promise<void> {
    this.calls++;
    switch (this.mode) {
      case 'down':
        return Promise.reject(new StoreUnavailableError('connect ECONNREFUSED 127.0.0.1:8123'));
      case 'refuse':
        return Promise.reject(new StoreWriteError('Type mismatch in column inputs'));
      case 'hang':
        return new Promise<void>(() => undefined);
      case 'up':
        // Copy, as a real store serialises the rows before the call returns.
        for (const row of rows) into.push(JSON.parse(JSON.stringify(row)) as T);
        this.acceptedBatches.push(rows.length);
        return Promise.resolve();
    }
  }

  predictionIds(): string[] {
    return this.predictions.map((p) => p.id);
  }
}

function errnoError(code: string, syscall: string): NodeJS.ErrnoException {
  const messages: Record<string, string> = {
    ENOSPC: 'no space left on device',
    EACCES: 'permission denied',
  };
  return Object.assign(new Error(`${code}: ${messages[code] ?? 'error'}, ${syscall}`), {
    code,
    syscall,
  });
}

/**
 * The real file system with faults on demand: `failWrites = 'ENOSPC'` makes every write fail
 * (after writing `partialWriteBytes` bytes, to leave a half-written frame behind); `failOpen`
 * makes creating files fail. Counts fsyncs of files and of directories.
 */
export class FaultyFileSystem implements SpoolFileSystem {
  failWrites: string | undefined;
  partialWriteBytes = 0;
  failOpen: string | undefined;
  fileSyncs = 0;
  directorySyncs = 0;

  mkdir(path: string): Promise<void> {
    return nodeSpoolFileSystem.mkdir(path);
  }

  readdir(path: string): Promise<string[]> {
    return nodeSpoolFileSystem.readdir(path);
  }

  stat(path: string): Promise<{ size: number; mtimeMs: number }> {
    return nodeSpoolFileSystem.stat(path);
  }

  unlink(path: string): Promise<void> {
    return nodeSpoolFileSystem.unlink(path);
  }

  async syncDirectory(path: string): Promise<void> {
    this.directorySyncs++;
    await nodeSpoolFileSystem.syncDirectory(path);
  }

  async open(path: string, flags: 'r' | 'wx'): Promise<SpoolFileHandle> {
    if (flags === 'wx' && this.failOpen) throw errnoError(this.failOpen, 'open');
    const handle = await nodeSpoolFileSystem.open(path, flags);
    return {
      write: async (buffer, offset, length, position) => {
        if (this.failWrites) {
          const partial = Math.min(this.partialWriteBytes, length);
          if (partial > 0) await handle.write(buffer, offset, partial, position);
          throw errnoError(this.failWrites, 'write');
        }
        return handle.write(buffer, offset, length, position);
      },
      read: (buffer, offset, length, position) => handle.read(buffer, offset, length, position),
      sync: async () => {
        this.fileSyncs++;
        await handle.sync();
      },
      truncate: (length) => handle.truncate(length),
      close: () => handle.close(),
    };
  }
}

/** Collects log lines so tests can assert what an operator would see. */
export class CapturingLogger implements PredictionLogLogger {
  readonly lines: Array<{ level: 'log' | 'warn' | 'error'; message: string }> = [];

  log(message: string): void {
    this.lines.push({ level: 'log', message });
  }

  warn(message: string): void {
    this.lines.push({ level: 'warn', message });
  }

  error(message: string): void {
    this.lines.push({ level: 'error', message });
  }

  matching(level: 'log' | 'warn' | 'error', pattern: RegExp): string[] {
    return this.lines
      .filter((l) => l.level === level && pattern.test(l.message))
      .map((l) => l.message);
  }
}

export function prediction(i: number, ts = Date.now()): PredictionRecord {
  return {
    id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    request_id: `req-${i}`,
    ts,
    model: 'iris',
    model_version: 1,
    route: 'champion',
    client_id: '',
    trace_id: '',
    span_id: '',
    inputs: [5.1, 3.5, 1.4, 0.2],
    scores: [0.9, 0.05, 0.05],
    label: 'setosa',
    value: null,
    latency_us: 120,
    batch_size: 1,
    status: 200,
    error: '',
    protocol: 'v2',
  };
}

export function predictions(from: number, count: number): PredictionRecord[] {
  return Array.from({ length: count }, (_, k) => prediction(from + k));
}

export function feedback(i: number): FeedbackRecord {
  return {
    prediction_id: prediction(i).id,
    ts: Date.now(),
    label: 'setosa',
    value: null,
    source: 'test',
  };
}

export function tempHome(): { home: string; cleanup: () => void } {
  const home = mkdtempSync(join(tmpdir(), 'argus-predlog-'));
  return { home, cleanup: () => rmSync(home, { recursive: true, force: true }) };
}

export function segmentFiles(directory: string): string[] {
  try {
    return readdirSync(directory)
      .filter((name) => name.endsWith('.spool'))
      .sort();
  } catch {
    return [];
  }
}

/** Polls `condition` until it holds; fails with `what` after `timeoutMs`. */
export async function waitFor(
  condition: () => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
