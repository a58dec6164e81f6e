import { PI, cos, floor, imul, isFiniteNumber, log, sin, sqrt, trunc } from './math';
/**
 * A small seeded pseudo-random generator (mulberry32). Training must be reproducible bit for bit
 * for a given seed, so nothing in the trainers may touch `Math.random`. mulberry32 has a 2^32
 * period, which is plenty for weight initialisation and per-epoch shuffles, and it is a handful
 * of 32-bit integer operations per draw.
 */
export class SeededRandom {
  private state: number;
  private spareNormal: number | null = null;

  constructor(seed: number) {
    if (!isFiniteNumber(seed)) throw new Error(`seed must be a finite number, got ${seed}`);
    // Mix the seed once so that nearby seeds (1, 2, 3) start far apart in the sequence.
    this.state = SeededRandom.mixSeed(trunc(seed));
  }

  private static mixSeed(seed: number): number {
    let h = (seed ^ 0x9e3779b9) >>> 0;
    h = imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
    h = imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
    return (h ^ (h >>> 16)) >>> 0;
  }

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  nextFloat(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  nextInt(n: number): number {
    return floor(this.nextFloat() * n);
  }

  /** Standard normal draw (Box–Muller; the second value of each pair is kept for the next call). */
  nextNormal(): number {
    if (this.spareNormal !== null) {
      const spare = this.spareNormal;
      this.spareNormal = null;
      return spare;
    }
    let u = 0;
    while (u === 0) u = this.nextFloat();
    const v = this.nextFloat();
    const radius = sqrt(-2 * log(u));
    this.spareNormal = radius * sin(2 * PI * v);
    return radius * cos(2 * PI * v);
  }

  /** Fisher–Yates shuffle in place. */
  shuffle(values: Uint32Array | Int32Array | number[]): void {
    for (let i = values.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const tmp = values[i];
      values[i] = values[j];
      values[j] = tmp;
    }
  }

  /** A permutation of 0..n-1. */
  permutation(n: number): Uint32Array {
    const out = new Uint32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    this.shuffle(out);
    return out;
  }
}
