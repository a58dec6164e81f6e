import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import * as path from 'node:path';
import { ArgusError, ErrorKind, errorMessage, InvalidInputError } from './errors';

/**
 * What the modules that move CPU-bound work off the serving thread share (training, reference
 * profiles): how to start a worker from source or from dist/, how a worker lowers its priority,
 * and how errors cross the thread boundary as the classes callers match on.
 */

/**
 * Where a worker thread's entry file is and how to start it. `basename` lives in `dir`, the
 * directory of the module starting the worker, with `extension`, that of the caller's own file
 * (`path.extname(__filename)`): `.js` when running from dist/, `.ts` under ts-jest or ts-node,
 * where the thread needs ts-node's transpile-only hook (a worker gets a fresh module system;
 * jest's transformer does not reach into it).
 */
export function workerEntry(
  dir: string,
  basename: string,
  extension: string,
): { filename: string; execArgv: string[]; env: NodeJS.ProcessEnv } {
  const filename = path.join(dir, `${basename}${extension}`);
  if (extension === '.ts') {
    return {
      filename,
      execArgv: ['-r', require.resolve('ts-node/register/transpile-only')],
      // ts-node looks for tsconfig.json from the working directory; point it at the project's,
      // so the worker compiles the same way wherever the process was started.
      env: {
        ...process.env,
        TS_NODE_PROJECT:
          process.env.TS_NODE_PROJECT ?? path.resolve(__dirname, '../../tsconfig.json'),
      },
    };
  }
  return { filename, execArgv: [], env: process.env };
}

/**
 * Lowers the calling thread's scheduling priority by `increment` (Linux: nice is per thread,
 * addressed by thread id), so on a busy machine the kernel runs the serving event loop first and
 * the worker takes what is left. Best effort: elsewhere, or when the kernel refuses, the thread
 * keeps the priority it inherited.
 */
export function lowerThreadPriority(increment: number): void {
  if (process.platform !== 'linux') return;
  try {
    // /proc/thread-self → "<pid>/task/<tid>" for the thread that reads it: this one.
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0) return;
    setPriority(tid, Math.min(19, getPriority(tid) + increment));
  } catch {
    // Not permitted or not available: run at the inherited priority.
  }
}

export interface SerializedError {
  name: string;
  message: string;
  /** Set for ArgusErrors, so the parent can rethrow the same kind (e.g. invalid → 400). */
  kind: ErrorKind | null;
  details: Record<string, unknown> | null;
}

export function serializeError(err: unknown): SerializedError {
  return {
    name: err instanceof Error ? err.name : 'Error',
    message: errorMessage(err),
    kind: err instanceof ArgusError ? err.kind : null,
    details: err instanceof ArgusError ? (err.details ?? null) : null,
  };
}

/** The error again, as the class the HTTP layer and callers match on. */
export function reviveError(error: SerializedError): Error {
  const details = error.details ?? undefined;
  if (error.kind === 'invalid') return new InvalidInputError(error.message, details);
  if (error.kind) return new ArgusError(error.kind, error.message, details);
  const revived = new Error(error.message);
  revived.name = error.name;
  return revived;
}
