/**
 * The writer's in-memory queue of one table (prediction-writer.ts): records in arrival order,
 * taken from the front in batches.
 */
export interface RecordQueue<T> {
  /** Records waiting. */
  readonly length: number;
  push(record: T): void;
  /**
   * Removes and returns the first records: `count` of them (or all, if fewer wait), then more, up
   * to `maxCount`, while their weights sum to less than `maxWeight`. Asynchronous so that a queue
   * which must decode its records can hand the event loop back while it does.
   */
  take(count: number, maxCount: number, maxWeight: number): Promise<T[]>;
}

/** Records kept as the objects they arrived as. */
export class ArrayRecordQueue<T> implements RecordQueue<T> {
  private records: T[] = [];

  /** `weigh`: a record's relative size; absent, `take` goes to `maxCount` whatever the weights. */
  constructor(private readonly weigh?: (record: T) => number) {}

  get length(): number {
    return this.records.length;
  }

  push(record: T): void {
    this.records.push(record);
  }

  take(count: number, maxCount: number, maxWeight: number): Promise<T[]> {
    return Promise.resolve(this.takeNow(count, maxCount, maxWeight));
  }

  private takeNow(count: number, maxCount: number, maxWeight: number): T[] {
    const queued = this.records.length;
    let n = Math.min(queued, count);
    if (queued > n && maxCount > n) {
      const limit = Math.min(queued, maxCount);
      const weigh = this.weigh;
      if (weigh === undefined) n = limit;
      else {
        let weight = 0;
        for (let i = 0; i < n; i++) weight += weigh(this.records[i]);
        while (n < limit && weight < maxWeight) weight += weigh(this.records[n++]);
      }
    }
    if (n >= queued) {
      const all = this.records;
      this.records = [];
      return all;
    }
    return this.records.splice(0, n);
  }
}
