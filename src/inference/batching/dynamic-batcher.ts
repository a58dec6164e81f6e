import { OverloadedError } from '../../common/errors';

/**
 * Triton-style dynamic batching, independent of ONNX and HTTP.
 *
 * Requests (each carrying some rows) wait in a bounded queue. A batch is dispatched when the
 * queued rows reach `maxBatchSize`, when the oldest request has waited `maxQueueDelayMicros`, or
 * at once when the delay is 0. With `maxDelay = 0` batching still happens under load: while one
 * batch runs, new requests queue up and leave together as the next batch. A full queue rejects
 * immediately (503 + Retry-After upstream) instead of letting latency grow without bound.
 */
export interface BatchPolicy {
  /** Rows per batch; 1 disables merging. A single request larger than this runs alone. */
  maxBatchSize: number;
  /** How long the oldest request may wait for company before its batch leaves. */
  maxQueueDelayMicros: number;
  /** Rows that may wait; a request that would exceed it is rejected. */
  maxQueueRows: number;
  /** A request that waited longer than this is rejected with 503 (Triton's queue timeout). 0 = never. */
  queueTimeoutMicros?: number;
  /** Batches executing at once (Triton's instance count). */
  maxConcurrentBatches?: number;
}

export interface BatchReport {
  rows: number;
  requests: number;
  /** Per request, microseconds between submit and dispatch. */
  queueWaitMicros: number[];
}

export interface BatchMember<I> {
  item: I;
  rows: number;
  queueWaitMicros: number;
}

export type BatchExecutor<I, O> = (members: BatchMember<I>[], rows: number) => Promise<O[]>;

interface Pending<I, O> {
  item: I;
  rows: number;
  enqueuedNs: bigint;
  resolve(result: O): void;
  reject(err: unknown): void;
}

export class DynamicBatcher<I, O> {
  private readonly queue: Pending<I, O>[] = [];
  private queuedRows = 0;
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private closed = false;

  constructor(
    readonly policy: BatchPolicy,
    private readonly execute: BatchExecutor<I, O>,
    private readonly onBatch?: (report: BatchReport) => void,
  ) {
    if (policy.maxBatchSize < 1) throw new RangeError('maxBatchSize must be >= 1');
  }

  /** Rows waiting in the queue (not yet dispatched). */
  get pendingRows(): number {
    return this.queuedRows;
  }

  get pendingRequests(): number {
    return this.queue.length;
  }

  get executingBatches(): number {
    return this.inFlight;
  }

  submit(item: I, rows: number): Promise<O> {
    if (this.closed) return Promise.reject(new OverloadedError('model is unloading'));
    if (this.queue.length > 0 && this.queuedRows + rows > this.policy.maxQueueRows) {
      return Promise.reject(
        new OverloadedError(
          `inference queue is full (${this.queuedRows} rows waiting, limit ${this.policy.maxQueueRows})`,
        ),
      );
    }
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, rows, enqueuedNs: process.hrtime.bigint(), resolve, reject });
      this.queuedRows += rows;
      this.schedule();
    });
  }

  /** Rejects everything still queued; batches already executing finish. */
  close(): void {
    this.closed = true;
    this.clearTimers();
    const pending = this.queue.splice(0);
    this.queuedRows = 0;
    for (const p of pending) p.reject(new OverloadedError('model is unloading'));
  }

  /** Resolves once nothing is queued or executing (used before releasing a session). */
  async drained(pollMs = 5): Promise<void> {
    while (this.queue.length > 0 || this.inFlight > 0) {
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  private clearTimers(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
  }

  private schedule(): void {
    if (this.queue.length === 0 || this.inFlight >= (this.policy.maxConcurrentBatches ?? 1)) return;
    const delayNs = BigInt(this.policy.maxQueueDelayMicros) * 1000n;
    const waitedNs = process.hrtime.bigint() - this.queue[0].enqueuedNs;
    if (this.queuedRows >= this.policy.maxBatchSize || waitedNs >= delayNs) {
      // Dispatch on the next turn, not synchronously: requests parsed in the same event-loop turn
      // then share a batch even when the delay is 0.
      if (!this.immediate) {
        this.clearTimers();
        this.immediate = setImmediate(() => {
          this.immediate = undefined;
          this.dispatch();
        });
      }
      return;
    }
    if (!this.timer) {
      const remainingMs = Number(delayNs - waitedNs) / 1e6;
      // setTimeout has millisecond resolution; sub-millisecond delays round up to 1 ms.
      this.timer = setTimeout(
        () => {
          this.timer = undefined;
          this.schedule();
        },
        Math.max(1, Math.ceil(remainingMs)),
      );
    }
  }

  private dispatch(): void {
    if (this.queue.length === 0 || this.inFlight >= (this.policy.maxConcurrentBatches ?? 1)) return;
    const now = process.hrtime.bigint();
    const timeoutNs = BigInt(this.policy.queueTimeoutMicros ?? 0) * 1000n;
    const members: Pending<I, O>[] = [];
    let rows = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0];
      if (timeoutNs > 0n && now - next.enqueuedNs > timeoutNs) {
        this.queue.shift();
        this.queuedRows -= next.rows;
        next.reject(new OverloadedError('request timed out in the inference queue'));
        continue;
      }
      if (members.length > 0 && rows + next.rows > this.policy.maxBatchSize) break;
      this.queue.shift();
      this.queuedRows -= next.rows;
      members.push(next);
      rows += next.rows;
    }
    if (members.length === 0) return;
    this.inFlight++;
    const batch = members.map((m) => ({
      item: m.item,
      rows: m.rows,
      queueWaitMicros: Number(now - m.enqueuedNs) / 1000,
    }));
    this.onBatch?.({
      rows,
      requests: members.length,
      queueWaitMicros: batch.map((b) => b.queueWaitMicros),
    });
    let results: Promise<O[]>;
    try {
      results = this.execute(batch, rows);
    } catch (err) {
      results = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    results
      .then((outputs) => {
        if (outputs.length !== members.length) {
          throw new Error(
            `batch executor returned ${outputs.length} results for ${members.length} requests`,
          );
        }
        members.forEach((m, i) => m.resolve(outputs[i]));
      })
      .catch((err: unknown) => {
        for (const m of members) m.reject(err);
      })
      .finally(() => {
        this.inFlight--;
        this.schedule();
      });
    // More rows may already be waiting for a second instance.
    this.schedule();
  }
}
