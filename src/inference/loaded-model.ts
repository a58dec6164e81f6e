import { ModelManifest } from '../registry/manifest';
import { ModelSession } from '../onnx/onnx-runtime';
import { allocate, copyInto, elementCount, sliceView, Tensor } from '../onnx/tensor';
import { BatchMember, BatchPolicy, BatchReport, DynamicBatcher } from './batching';

export interface ModelRunResult {
  outputs: Map<string, Tensor>;
  /** Rows in the batch this request ran in (its own rows when batching is off). */
  batchSize: number;
  queueWaitMicros: number;
  /** Epoch milliseconds (fractional) of submit, and of the session.run that served the request. */
  submittedAt: number;
  runStartedAt: number;
  runEndedAt: number;
}

/** Wall-clock milliseconds with sub-millisecond precision, for span timestamps. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

interface BatchItem {
  inputs: Tensor[];
}

type BatchOutcome = Omit<ModelRunResult, 'submittedAt'>;

export interface LoadedModelHooks {
  onBatch?(report: BatchReport): void;
  onRun?(seconds: number): void;
}

/**
 * One model version with its ONNX Runtime session and, when the model allows it, a dynamic
 * batcher. Rows of concurrent requests are concatenated along the first dimension, run once, and
 * the outputs are split back by row offsets.
 */
export class LoadedModel {
  readonly key: string;
  readonly batcher: DynamicBatcher<BatchItem, BatchOutcome>;
  /** Whether rows of different requests may share a session.run (dynamic first dimension). */
  readonly batchable: boolean;
  private activeRequests = 0;

  constructor(
    readonly manifest: ModelManifest,
    private readonly session: ModelSession,
    policy: BatchPolicy,
    private readonly hooks: LoadedModelHooks = {},
  ) {
    this.key = `${manifest.name}@${manifest.version}`;
    this.batchable = [...session.inputs, ...session.outputs].every(
      (t) => t.shape.length > 0 && t.shape[0] === -1,
    );
    // Every model queues, so max_queue_rows bounds the wait; a fixed first dimension (or
    // max_batch_size 1) only means requests are never merged.
    this.batcher = new DynamicBatcher<BatchItem, BatchOutcome>(
      this.batchable ? policy : { ...policy, maxBatchSize: 1 },
      (members, rows) => this.runBatch(members, rows),
      hooks.onBatch,
    );
  }

  get name(): string {
    return this.manifest.name;
  }

  get version(): number {
    return this.manifest.version;
  }

  get inFlight(): number {
    return this.activeRequests;
  }

  /** Runs validated inputs (all with the same first dimension `rows`). */
  async infer(inputs: Tensor[], rows: number): Promise<ModelRunResult> {
    this.activeRequests++;
    const submittedAt = nowMs();
    try {
      return { submittedAt, ...(await this.batcher.submit({ inputs }, rows)) };
    } finally {
      this.activeRequests--;
    }
  }

  /** Runs one row of zeros (and a full batch when batching) so the first request is not slow. */
  async warmUp(maxBatchSize: number): Promise<void> {
    // A fixed first dimension is used as it is; a dynamic one is warmed at 1 row and at a full
    // batch so ONNX Runtime has sized its buffers before the first real batch.
    const first = this.session.inputs[0]?.shape[0] ?? 1;
    const sizes = !this.batchable
      ? [first > 0 ? first : 1]
      : maxBatchSize > 1
        ? [1, maxBatchSize]
        : [1];
    for (const rows of sizes) {
      const feeds = this.session.inputs.map((spec) => {
        const shape = spec.shape.map((d, i) => (i === 0 && d === -1 ? rows : d === -1 ? 1 : d));
        return {
          name: spec.name,
          datatype: spec.datatype,
          shape,
          data: allocate(spec.datatype, elementCount(shape)),
        };
      });
      await this.session.run(feeds);
    }
  }

  async release(): Promise<void> {
    this.batcher.close();
    await this.session.release();
  }

  private async runBatch(members: BatchMember<BatchItem>[], rows: number): Promise<BatchOutcome[]> {
    let feeds: Tensor[];
    if (members.length === 1) {
      feeds = members[0].item.inputs;
    } else {
      feeds = this.session.inputs.map((spec, inputIndex) => {
        const first = members[0].item.inputs[inputIndex];
        const rowWidth = elementCount(first.shape.slice(1));
        const merged = allocate(spec.datatype, rows * rowWidth);
        let offset = 0;
        for (const m of members) {
          const t = m.item.inputs[inputIndex];
          copyInto(merged, t.data, offset);
          offset += t.data.length;
        }
        return {
          name: spec.name,
          datatype: spec.datatype,
          shape: [rows, ...first.shape.slice(1)],
          data: merged,
        };
      });
    }
    const runStartedAt = nowMs();
    const outputs = await this.session.run(feeds);
    const runEndedAt = nowMs();
    this.hooks.onRun?.((runEndedAt - runStartedAt) / 1000);

    if (members.length === 1) {
      return [
        {
          outputs,
          batchSize: rows,
          queueWaitMicros: members[0].queueWaitMicros,
          runStartedAt,
          runEndedAt,
        },
      ];
    }
    const results: BatchOutcome[] = members.map((m) => ({
      outputs: new Map<string, Tensor>(),
      batchSize: rows,
      queueWaitMicros: m.queueWaitMicros,
      runStartedAt,
      runEndedAt,
    }));
    for (const [name, tensor] of outputs) {
      if (tensor.shape[0] !== rows) {
        throw new Error(
          `output '${name}' has first dimension ${tensor.shape[0]}, expected the batch size ${rows}`,
        );
      }
      const rowWidth = elementCount(tensor.shape.slice(1));
      let row = 0;
      members.forEach((m, i) => {
        results[i].outputs.set(name, {
          name,
          datatype: tensor.datatype,
          shape: [m.rows, ...tensor.shape.slice(1)],
          data: sliceView(tensor.data, row * rowWidth, (row + m.rows) * rowWidth),
        });
        row += m.rows;
      });
    }
    return results;
  }
}
