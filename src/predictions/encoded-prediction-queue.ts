import { performance } from 'node:perf_hooks';
import { AdaptiveSlices, yieldToEventLoop } from '../common/event-loop-slices';
import type { StoredPrediction } from '../store/analytics-store';
import {
  decodePrediction,
  encodePrediction,
  encodedBytesAt,
  encodedWeightAt,
  maxEncodedBytes,
  newSlab,
  RecordSlab,
} from './prediction-record-codec';
import { RecordQueue } from './record-queue';

/** Default slab size: about 300 MNIST records, or thousands of narrow ones. */
export const SLAB_BYTES = 1024 * 1024;

interface QueuedSlab {
  slab: RecordSlab;
  /** Where the records written so far end. */
  end: number;
}

/**
 * The predictions queue, kept as bytes (prediction-record-codec.ts) in 1 MB slabs off the V8 heap
 * until the flush decodes a batch.
 *
 * Why: a record waits up to the flush interval (1 s) in the queue. As objects — the record, its
 * strings, its scores array — every record outlives two young-generation collections, so each
 * scavenge copied the whole queue and then promoted it, and the old generation collected it
 * later. At 600 MNIST requests/s, logging into DuckDB, scavenges promoted 0.18 MB each; with
 * the queue as bytes, 0.012 MB, and the writer benchmark's RSS peak fell from 886 to 579 MB
 * (docs/prediction-log.md, session 8). Encoding a record costs ~1-2 µs on the request path; a
 * batch's objects now live only as long as its insert.
 *
 * A slab is never written again where records were read from it: decoded inputs are views of the
 * slab, and a batch in flight still holds them. A read-out slab is dropped, and the garbage
 * collector frees it once the last of its records is gone.
 */
export class EncodedPredictionQueue implements RecordQueue<StoredPrediction> {
  private readonly slabs: QueuedSlab[] = [];
  /** Read position in slabs[0]. */
  private readAt = 0;
  private count = 0;
  /** Sizes the decode slices of `take` from how long the previous ones took. */
  private readonly slices = new AdaptiveSlices({ firstUnits: 256, maxUnits: 8192 });

  constructor(
    private readonly weigh: (record: StoredPrediction) => number,
    private readonly slabBytes = SLAB_BYTES,
  ) {}

  get length(): number {
    return this.count;
  }

  /** Slabs holding unread records (the last may have room for more). */
  get slabCount(): number {
    return this.slabs.length;
  }

  push(record: StoredPrediction): void {
    const need = maxEncodedBytes(record);
    let tail = this.slabs[this.slabs.length - 1];
    if (tail === undefined || tail.end + need > tail.slab.bytes.length) {
      // Nothing unread is left in a full tail when the queue is empty: let it go.
      if (this.count === 0) this.slabs.length = 0;
      tail = { slab: newSlab(Math.max(this.slabBytes, need)), end: 0 };
      this.slabs.push(tail);
      if (this.slabs.length === 1) this.readAt = 0;
    }
    tail.end = encodePrediction(tail.slab, tail.end, record, this.weigh(record));
    this.count++;
  }

  /**
   * Decodes the batch a slice at a time (about a millisecond each), handing the event loop back in
   * between: a record costs ~3 µs to decode, so a 2000-record batch decoded in one piece held the
   * loop for 5-7 ms once a second, which showed in the predict path's p99 at 2000 requests/s.
   * Records pushed meanwhile queue behind the batch; the writer runs one take at a time.
   */
  async take(count: number, maxCount: number, maxWeight: number): Promise<StoredPrediction[]> {
    const out: StoredPrediction[] = [];
    const limit = Math.min(this.count, Math.max(count, maxCount));
    const slices = this.slices;
    let weight = 0;
    while (out.length < limit && (out.length < count || weight < maxWeight)) {
      if (out.length > 0) await yieldToEventLoop();
      const began = performance.now();
      const sliceEnd = Math.min(limit, out.length + slices.next());
      const before = out.length;
      while (out.length < sliceEnd && (out.length < count || weight < maxWeight)) {
        const head = this.slabs[0].slab;
        weight += encodedWeightAt(head, this.readAt);
        out.push(decodePrediction(head, this.readAt));
        this.readAt += encodedBytesAt(head, this.readAt);
        // Counted out record by record: a push between slices then sees only what is still unread.
        this.count--;
        // A read-out head goes at once, unless it is the tail (more records will follow in it), so
        // slabs[0] always holds the next unread record.
        if (this.readAt >= this.slabs[0].end && this.slabs.length > 1) {
          this.slabs.shift();
          this.readAt = 0;
        }
      }
      slices.record(out.length - before, performance.now() - began);
    }
    return out;
  }
}
