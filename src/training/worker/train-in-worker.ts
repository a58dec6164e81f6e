import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { reviveError, SerializedError, workerEntry } from '../../common/worker-threads';
import { TrainingCancelledError } from '../errors';
import type { EpochProgress } from '../trainers/dense-trainer';
import type { TrainingResult, TrainingSpec } from '../train-model';
import type { TrainingWorkerMessage, TrainingWorkerRequest } from './messages';

/**
 * Runs training in a worker thread, so the event loop that serves predictions never waits for an
 * epoch. One thread per run: training is CPU-bound and long compared to thread start-up (~30 ms
 * compiled, ~1 s when it has to transpile TypeScript), and terminating the thread is the simplest
 * cancellation that is always prompt.
 */

export type ProgressListener = (progress: EpochProgress) => void;

/** The training worker's entry file and how to start it (see `workerEntry`). */
export function trainingWorkerEntry(): ReturnType<typeof workerEntry> {
  return workerEntry(__dirname, 'training-worker', path.extname(__filename));
}

function reviveTrainingError(error: SerializedError): Error {
  if (error.name === 'TrainingCancelledError') return new TrainingCancelledError(error.message);
  return reviveError(error);
}

/** Runs one worker request; resolves with its result, rejects with its error or on abort. */
export function runTrainingWorker(
  request: TrainingWorkerRequest,
  onProgress?: ProgressListener,
  signal?: AbortSignal,
): Promise<TrainingResult> {
  if (signal?.aborted) return Promise.reject(new TrainingCancelledError());
  return new Promise<TrainingResult>((resolve, reject) => {
    const entry = trainingWorkerEntry();
    const worker = new Worker(entry.filename, {
      workerData: request,
      execArgv: entry.execArgv,
      env: entry.env,
    });
    let settled = false;
    const settle = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      outcome();
    };
    // Rejects only once the thread is gone, so "cancelled" means no more CPU is being spent.
    const fail = (err: Error): void => {
      settle(() => {
        worker.terminate().then(
          () => reject(err),
          () => reject(err),
        );
      });
    };
    const onAbort = (): void => fail(new TrainingCancelledError());
    signal?.addEventListener('abort', onAbort, { once: true });

    worker.on('message', (message: TrainingWorkerMessage) => {
      if (settled) return;
      switch (message.type) {
        case 'progress':
          try {
            onProgress?.(message.progress);
          } catch (err) {
            // A failing listener must not become an uncaught exception in the serving thread.
            fail(err instanceof Error ? err : new Error(String(err)));
          }
          break;
        case 'result':
          settle(() => resolve(message.result));
          break;
        case 'error':
          settle(() => reject(reviveTrainingError(message.error)));
          break;
      }
    });
    worker.on('error', (err: Error) => fail(err));
    worker.on('exit', (code) => {
      if (!settled) {
        settle(() => reject(new Error(`training worker exited with code ${code} before a result`)));
      }
    });
  });
}

/**
 * Trains `spec` in a worker thread. Progress arrives once per epoch; aborting `signal` terminates
 * the thread at once and rejects with TrainingCancelledError. For the same spec and seed the
 * result is bit-identical to `trainModel(spec)` in the calling thread.
 */
export function trainInWorker(
  spec: TrainingSpec,
  onProgress?: ProgressListener,
  signal?: AbortSignal,
): Promise<TrainingResult> {
  return runTrainingWorker({ type: 'train', spec }, onProgress, signal);
}
