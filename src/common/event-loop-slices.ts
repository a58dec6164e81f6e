import { performance } from 'node:perf_hooks';

/**
 * Cutting long synchronous loops (encoding or appending a batch of thousands of rows) into slices
 * of about a millisecond, with the event loop handed back in between, so that requests arriving
 * meanwhile wait at most one slice instead of the whole batch. A 5000-row flush of MNIST-sized
 * rows held the loop for 100-200 ms in one piece; every request behind it saw that in its latency,
 * which is exactly what a p99 measures.
 */

/** About what one slice of flush work may hold the event loop (the target is ≤ 1-2 ms pauses). */
export const DEFAULT_SLICE_MS = 1;

/** Resolves after the timers and I/O callbacks that are due have run (one `setImmediate`). */
export function yieldToEventLoop(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

export interface AdaptiveSlicesOptions {
  /** Target duration of one slice, ms. Default DEFAULT_SLICE_MS. */
  budgetMs?: number;
  /** Units (rows) in the first slice, before anything was timed. Default 64. */
  firstUnits?: number;
  /** Bounds of a slice, in units. Defaults 1 and 2048. */
  minUnits?: number;
  maxUnits?: number;
}

/**
 * Sizes slices in units of work (rows) so each takes about `budgetMs`: the next slice gets as many
 * units as the last one could have done in the budget (`next()`), from what the caller measured
 * (`record()`). Growth is capped at 4× per slice, so one fast slice (a warm cache, a row of empty
 * values) cannot make the next one huge.
 */
export class AdaptiveSlices {
  readonly budgetMs: number;
  private readonly minUnits: number;
  private readonly maxUnits: number;
  private units: number;

  constructor(options: AdaptiveSlicesOptions = {}) {
    this.budgetMs = options.budgetMs ?? DEFAULT_SLICE_MS;
    this.minUnits = Math.max(1, Math.floor(options.minUnits ?? 1));
    this.maxUnits = Math.max(this.minUnits, Math.floor(options.maxUnits ?? 2048));
    this.units = this.clamp(options.firstUnits ?? 64);
  }

  /** Units to put in the next slice. */
  next(): number {
    return this.units;
  }

  /** The slice just done had `units` units and took `ms`. */
  record(units: number, ms: number): void {
    if (units <= 0) return;
    const perUnit = Math.max(ms, 0.001) / units;
    const fit = Math.floor(this.budgetMs / perUnit);
    this.units = this.clamp(Math.min(fit, units * 4));
  }

  private clamp(units: number): number {
    return Math.min(this.maxUnits, Math.max(this.minUnits, Math.floor(units)));
  }
}

/**
 * Calls `each(i)` for i in [0, count), in slices sized by `slices` to take about its budget, with
 * the event loop handed back between slices. For loops whose items are independent (binning rows,
 * summing them); loops that must cut at their own boundaries (appender flushes, frame pieces) size
 * their slices from `slices` themselves.
 */
export async function forEachInSlices(
  count: number,
  each: (index: number) => void,
  slices: AdaptiveSlices = new AdaptiveSlices(),
): Promise<void> {
  let start = 0;
  while (start < count) {
    const began = performance.now();
    const end = Math.min(count, start + slices.next());
    for (let i = start; i < end; i++) each(i);
    slices.record(end - start, performance.now() - began);
    start = end;
    if (start < count) await yieldToEventLoop();
  }
}
