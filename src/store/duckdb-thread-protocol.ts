import { reviveError, SerializedError, serializeError } from '../common/worker-threads';
import {
  MigrationChecksumError,
  MigrationFailedError,
  StoreError,
  StoreQueryError,
  StoreUnavailableError,
  StoreWriteError,
} from './analytics-store';

/**
 * The messages between `DuckDbThreadStore` (serving thread) and the DuckDB store thread
 * (`duckdb-store-thread.ts`). Each call carries an id, and every reply names the call it answers.
 */

/** What the thread opens: the options of `DuckDbStore.open`. */
export interface DuckDbThreadData {
  path: string;
  migrationsDir?: string;
}

/**
 * A store method with its arguments, structured-cloned. `insertPredictions` does not come this
 * way: its rows go as one transferred block of encoded records (`EncodedPredictions`).
 */
export interface StoreCall {
  id: number;
  method: string;
  args: unknown[];
}

/** Rows encoded back to back with `encodePrediction`; `bytes` is transferred, not copied. */
export interface EncodedPredictions {
  id: number;
  method: 'insertPredictions';
  bytes: Uint8Array;
  count: number;
}

export type StoreThreadRequest = StoreCall | EncodedPredictions;

export type StoreThreadReply =
  | { type: 'ready' }
  | { type: 'failed'; error: SerializedStoreError }
  | { type: 'result'; id: number; value: unknown }
  | { type: 'error'; id: number; error: SerializedStoreError }
  /** A line of `migrate`'s progress, for the call `id`. */
  | { type: 'progress'; id: number; line: string };

/**
 * An error as it crosses the thread (`SerializedError`, shared with training and profile builds),
 * plus what the store's own classes need: the writer decides to retry or keep a batch by
 * `StoreError.retryable`, so those must come back as their classes, and migration errors keep the
 * fields their messages and callers use.
 */
export interface SerializedStoreError extends SerializedError {
  /** MigrationChecksumError's file and checksums; MigrationFailedError's file and statement. */
  migration?: { file: string; appliedChecksum?: string; currentChecksum?: string; index?: number };
}

export function serializeStoreError(err: unknown): SerializedStoreError {
  const serialized: SerializedStoreError = serializeError(err);
  if (err instanceof MigrationChecksumError) {
    serialized.migration = {
      file: err.file,
      appliedChecksum: err.appliedChecksum,
      currentChecksum: err.currentChecksum,
    };
  } else if (err instanceof MigrationFailedError) {
    serialized.migration = { file: err.file, index: err.statementIndex };
  }
  return serialized;
}

/** The error again, as the class it was thrown as (other classes: `reviveError`'s mapping by kind). */
export function reviveStoreError(error: SerializedStoreError): Error {
  const m = error.migration;
  switch (error.name) {
    case 'StoreUnavailableError':
      return new StoreUnavailableError(error.message);
    case 'StoreWriteError':
      return new StoreWriteError(error.message);
    case 'StoreQueryError':
      return new StoreQueryError(error.message);
    case 'MigrationChecksumError':
      if (m) {
        return new MigrationChecksumError(m.file, m.appliedChecksum ?? '', m.currentChecksum ?? '');
      }
      break;
    case 'MigrationFailedError':
      // The message already names file and statement; rebuilding from the cause would repeat them.
      if (m) return withMessage(new MigrationFailedError(m.file, m.index ?? 0, ''), error.message);
      break;
    case 'RangeError':
      return new RangeError(error.message);
  }
  return reviveError(error);
}

function withMessage<E extends StoreError>(err: E, message: string): E {
  err.message = message;
  return err;
}
