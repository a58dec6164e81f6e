import { parentPort, workerData } from 'node:worker_threads';
import { lowerThreadPriority } from '../common/worker-threads';
import { decodePredictions, slabOver } from '../predictions/prediction-record-codec';
import type { AnalyticsStore } from './analytics-store';
import { DuckDbStore } from './duckdb-store';
import {
  DuckDbThreadData,
  serializeStoreError,
  StoreThreadReply,
  StoreThreadRequest,
} from './duckdb-thread-protocol';

/**
 * Entry point of the DuckDB store thread: opens the database file and runs every store call the
 * serving thread sends (`DuckDbThreadStore`), in arrival order, through one `DuckDbStore`. DuckDB
 * allows one open instance of a file per process, so this thread owns all of its queries.
 */

/**
 * Below the serving thread, like training and profile builds: a logged row can wait in the queue,
 * a request cannot. Lowered before the database opens, so the threads DuckDB starts for its own
 * work inherit it. At 1827 tabular requests/s (20 % of capacity; 4 runs of 10 s, two servers
 * each) the p99 was 6.7-20.5 ms at the serving thread's priority and 5.3-9.3 ms at +10.
 */
export const STORE_THREAD_NICE_INCREMENT = 10;

function post(reply: StoreThreadReply): void {
  parentPort?.postMessage(reply);
}

async function serve(store: DuckDbStore, request: StoreThreadRequest): Promise<unknown> {
  if ('bytes' in request) {
    return store.insertPredictions(decodePredictions(slabOver(request.bytes), request.count));
  }
  if (request.method === 'migrate') {
    const [, options] = request.args as Parameters<AnalyticsStore['migrate']>;
    return store.migrate((line) => post({ type: 'progress', id: request.id, line }), options);
  }
  const method = (store as unknown as Record<string, unknown>)[request.method];
  if (typeof method !== 'function') throw new Error(`no store method ${request.method}`);
  // The method name and arguments come from DuckDbThreadStore, which forwards AnalyticsStore calls.
  return (method as (...args: unknown[]) => Promise<unknown>).apply(store, request.args);
}

async function main(): Promise<void> {
  lowerThreadPriority(STORE_THREAD_NICE_INCREMENT);
  const data = workerData as DuckDbThreadData;
  let store: DuckDbStore;
  try {
    store = await DuckDbStore.open(data);
  } catch (err) {
    post({ type: 'failed', error: serializeStoreError(err) });
    return;
  }
  parentPort?.on('message', (request: StoreThreadRequest) => {
    // DuckDbStore orders its operations itself; calls start in the order they arrived.
    serve(store, request).then(
      (value) => post({ type: 'result', id: request.id, value }),
      (err: unknown) => post({ type: 'error', id: request.id, error: serializeStoreError(err) }),
    );
  });
  post({ type: 'ready' });
}

void main();
