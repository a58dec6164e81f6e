import { OverloadedError } from '../../../src/common/errors';
import { BatchMember, BatchReport, DynamicBatcher } from '../../../src/inference/batching';

/** An executor that records the batches it saw and answers each item with its own value doubled. */
function recordingExecutor(delayMs = 0) {
  const batches: number[][] = [];
  let release: (() => void) | undefined;
  const gate = delayMs < 0 ? new Promise<void>((r) => (release = r)) : undefined;
  const execute = async (members: BatchMember<number>[], rows: number): Promise<number[]> => {
    batches.push(members.map((m) => m.item));
    expect(rows).toBe(members.reduce((s, m) => s + m.rows, 0));
    if (gate) await gate;
    else if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    return members.map((m) => m.item * 2);
  };
  return { batches, execute, release: () => release?.() };
}

describe('DynamicBatcher', () => {
  it('merges requests submitted in the same turn into one batch and returns each its own result', async () => {
    const exec = recordingExecutor();
    const batcher = new DynamicBatcher(
      { maxBatchSize: 8, maxQueueDelayMicros: 0, maxQueueRows: 100 },
      exec.execute,
    );
    const results = await Promise.all([1, 2, 3, 4].map((v) => batcher.submit(v, 1)));
    expect(results).toEqual([2, 4, 6, 8]);
    expect(exec.batches).toEqual([[1, 2, 3, 4]]);
  });

  it('never exceeds maxBatchSize rows and keeps FIFO order', async () => {
    const exec = recordingExecutor();
    const batcher = new DynamicBatcher(
      { maxBatchSize: 3, maxQueueDelayMicros: 0, maxQueueRows: 100 },
      exec.execute,
    );
    const items = Array.from({ length: 10 }, (_, i) => i);
    const results = await Promise.all(items.map((v) => batcher.submit(v, 1)));
    expect(results).toEqual(items.map((v) => v * 2));
    for (const b of exec.batches) expect(b.length).toBeLessThanOrEqual(3);
    expect(exec.batches.flat()).toEqual(items);
  });

  it('runs a request larger than maxBatchSize alone', async () => {
    const exec = recordingExecutor();
    const batcher = new DynamicBatcher(
      { maxBatchSize: 4, maxQueueDelayMicros: 0, maxQueueRows: 100 },
      exec.execute,
    );
    await Promise.all([batcher.submit(1, 10), batcher.submit(2, 1)]);
    expect(exec.batches).toEqual([[1], [2]]);
  });

  it('queues requests that arrive while a batch runs and sends them together next', async () => {
    const exec = recordingExecutor(20);
    const batcher = new DynamicBatcher(
      { maxBatchSize: 64, maxQueueDelayMicros: 0, maxQueueRows: 100 },
      exec.execute,
    );
    const first = batcher.submit(0, 1);
    await new Promise((r) => setTimeout(r, 5)); // first batch is now executing
    const rest = [1, 2, 3, 4, 5].map((v) => batcher.submit(v, 1));
    await Promise.all([first, ...rest]);
    expect(exec.batches).toEqual([[0], [1, 2, 3, 4, 5]]);
  });

  it('waits up to maxQueueDelay for company, then dispatches a partial batch', async () => {
    const exec = recordingExecutor();
    const batcher = new DynamicBatcher(
      { maxBatchSize: 8, maxQueueDelayMicros: 30_000, maxQueueRows: 100 },
      exec.execute,
    );
    const a = batcher.submit(1, 1);
    await new Promise((r) => setTimeout(r, 10));
    const b = batcher.submit(2, 1);
    expect(exec.batches).toEqual([]); // still waiting for the delay
    await Promise.all([a, b]);
    expect(exec.batches).toEqual([[1, 2]]);
  });

  it('dispatches before the delay once maxBatchSize rows are queued', async () => {
    const exec = recordingExecutor();
    const batcher = new DynamicBatcher(
      { maxBatchSize: 2, maxQueueDelayMicros: 10_000_000, maxQueueRows: 100 },
      exec.execute,
    );
    await expect(Promise.all([batcher.submit(1, 1), batcher.submit(2, 1)])).resolves.toEqual([
      2, 4,
    ]);
  });

  it('rejects with OverloadedError when the queue is full, and serves the rest', async () => {
    const exec = recordingExecutor(-1); // the first batch blocks until released
    const batcher = new DynamicBatcher(
      { maxBatchSize: 1, maxQueueDelayMicros: 0, maxQueueRows: 2 },
      exec.execute,
    );
    const running = batcher.submit(0, 1);
    await new Promise((r) => setImmediate(r));
    const queued = [batcher.submit(1, 1), batcher.submit(2, 1)];
    await expect(batcher.submit(3, 1)).rejects.toBeInstanceOf(OverloadedError);
    expect(batcher.pendingRows).toBe(2);
    exec.release();
    await expect(Promise.all([running, ...queued])).resolves.toEqual([0, 2, 4]);
  });

  it('rejects requests that waited past the queue timeout', async () => {
    const exec = recordingExecutor(30);
    const batcher = new DynamicBatcher(
      { maxBatchSize: 1, maxQueueDelayMicros: 0, maxQueueRows: 10, queueTimeoutMicros: 10_000 },
      exec.execute,
    );
    const first = batcher.submit(1, 1);
    await new Promise((r) => setImmediate(r));
    const late = batcher.submit(2, 1);
    await expect(first).resolves.toBe(2);
    await expect(late).rejects.toThrow(/timed out/);
  });

  it('fails every member of a batch whose execution fails, and keeps serving', async () => {
    let fail = true;
    const batcher = new DynamicBatcher<number, number>(
      { maxBatchSize: 8, maxQueueDelayMicros: 0, maxQueueRows: 100 },
      async (members) => {
        if (fail) throw new Error('runtime exploded');
        return members.map((m) => m.item);
      },
    );
    const failed = await Promise.allSettled([batcher.submit(1, 1), batcher.submit(2, 1)]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    await expect(batcher.submit(3, 1)).resolves.toBe(3);
  });

  it('reports batch sizes and queue waits', async () => {
    const reports: BatchReport[] = [];
    const exec = recordingExecutor();
    const batcher = new DynamicBatcher(
      { maxBatchSize: 8, maxQueueDelayMicros: 0, maxQueueRows: 100 },
      exec.execute,
      (r) => reports.push(r),
    );
    await Promise.all([batcher.submit(1, 2), batcher.submit(2, 3)]);
    expect(reports).toHaveLength(1);
    expect(reports[0].rows).toBe(5);
    expect(reports[0].requests).toBe(2);
    expect(reports[0].queueWaitMicros).toHaveLength(2);
    for (const w of reports[0].queueWaitMicros) expect(w).toBeGreaterThanOrEqual(0);
  });

  it('close() rejects what is queued', async () => {
    const exec = recordingExecutor(-1);
    const batcher = new DynamicBatcher(
      { maxBatchSize: 1, maxQueueDelayMicros: 0, maxQueueRows: 10 },
      exec.execute,
    );
    const running = batcher.submit(1, 1);
    await new Promise((r) => setImmediate(r));
    const queued = batcher.submit(2, 1);
    batcher.close();
    await expect(queued).rejects.toBeInstanceOf(OverloadedError);
    exec.release();
    await expect(running).resolves.toBe(2);
    await expect(batcher.submit(3, 1)).rejects.toBeInstanceOf(OverloadedError);
  });
});
