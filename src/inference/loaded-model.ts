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
  readonly batcher: DynamicBatcher<BatchItem, BatchOutcome> | undefined;
  private activeRequests = 0;

  constructor(
    readonly manifest: ModelManifest,
    private readonly session: ModelSession,
    policy: BatchPolicy,
    private readonly hooks: LoadedModelHooks = {},
  ) {
    this.key = `${manifest.name}@${manifest.version}`;
    // max_batch_size 1 still queues (no merging) so max_queue_rows bounds the wait.
    const batchable = [...session.inputs, ...session.outputs].every(
      (t) => t.shape.length > 0 && t.shape[0] === -1,
    );
    this.batcher = batchable
      ? new DynamicBatcher<BatchItem, BatchOutcome>(
          policy,
          (members, rows) => this.runBatch(members, rows),
          hooks.onBatch,
        )
      : undefined;
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
      if (this.batcher) return { submittedAt, ...(await this.batcher.submit({ inputs }, rows)) };
      const outputs = await this.session.run(inputs);
      const runEndedAt = nowMs();
      this.hooks.onRun?.((runEndedAt - submittedAt) / 1000);
      this.hooks.onBatch?.({ rows, requests: 1, queueWaitMicros: [0] });
      return {
        outputs,
        batchSize: rows,
        queueWaitMicros: 0,
        submittedAt,
        runStartedAt: submittedAt,
        runEndedAt,
      };
    } finally {
      this.activeRequests--;
    }
  }

  /** Runs one row of zeros (and a full batch when batching) so the first request is not slow. */
  async warmUp(maxBatchSize: number): Promise<void> {
    // Without a batcher the first dimension is either fixed (use it) or dynamic with batching
    // configured off (max_batch_size 1: one row; -1 would allocate a negative-length array).
    const first = this.session.inputs[0]?.shape[0] ?? 1;
    const sizes = this.batcher ? [1, maxBatchSize] : [first > 0 ? first : 1];
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
    this.batcher?.close();
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
