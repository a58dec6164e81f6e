import { parentPort, workerData } from 'node:worker_threads';
import { lowerThreadPriority, serializeError } from '../../common/worker-threads';
import { trainMnistDemo } from '../mnist-demo-training';
import type { FitHooks } from '../trainers/dense-trainer';
import { trainModel, TrainingResult } from '../train-model';
import type { TrainingWorkerMessage, TrainingWorkerRequest } from './messages';

/**
 * Entry point of a training worker thread: runs one request from workerData, posts progress per
 * epoch and then one result or error, and ends. The training loop is synchronous; the parent
 * cancels by terminating the thread, which V8 honours even inside a tight loop.
 */

function post(message: TrainingWorkerMessage, transfer: ArrayBuffer[] = []): void {
  parentPort?.postMessage(message, transfer);
}

function buffersOf(result: TrainingResult): ArrayBuffer[] {
  // Hand the large typed arrays over instead of copying them (they are not used here again).
  const buffers = new Set<ArrayBuffer>();
  const add = (view: ArrayBufferView) => {
    if (view.buffer instanceof ArrayBuffer && view.byteLength === view.buffer.byteLength) {
      buffers.add(view.buffer);
    }
  };
  add(result.onnx);
  for (const layer of result.model.layers) {
    add(layer.weights);
    add(layer.bias);
  }
  return [...buffers];
}

async function run(request: TrainingWorkerRequest): Promise<void> {
  const hooks: FitHooks = {
    onEpoch: (progress) => post({ type: 'progress', progress }),
  };
  try {
    const result =
      request.type === 'train'
        ? trainModel(request.spec, hooks)
        : await trainMnistDemo(hooks, request.options);
    post({ type: 'result', result }, buffersOf(result));
  } catch (err) {
    post({
      type: 'error',
      error: serializeError(err),
    });
  }
}

/** How much lower than the serving thread a training thread runs (Linux nice increment). */
const TRAINING_NICE_INCREMENT = 10;

lowerThreadPriority(TRAINING_NICE_INCREMENT);
void run(workerData as TrainingWorkerRequest);
