import { InvalidInputError } from '../../common/errors';

/**
 * Append-only typed-array buffers for reading a data set row by row without knowing its length:
 * capacity doubles, so a million rows cost ~20 copies, not a million.
 */

/** 1 GiB of float32 values: beyond this a data set belongs in a streaming trainer, not here. */
const MAX_VALUES = 1 << 28;

export class GrowableFloat32 {
  private data = new Float32Array(1024);
  length = 0;

  push(value: number): void {
    if (this.length === this.data.length) this.grow();
    this.data[this.length++] = value;
  }

  private grow(): void {
    if (this.data.length >= MAX_VALUES) {
      throw new InvalidInputError(
        `the data set exceeds ${MAX_VALUES} values (1 GiB of float32); sample it down first`,
      );
    }
    const next = new Float32Array(Math.min(this.data.length * 2, MAX_VALUES));
    next.set(this.data);
    this.data = next;
  }

  /** Exactly the values pushed (a copy, so the spare capacity is released). */
  toArray(): Float32Array {
    return this.data.slice(0, this.length);
  }
}

export class GrowableInt32 {
  private data = new Int32Array(1024);
  length = 0;

  push(value: number): void {
    if (this.length === this.data.length) {
      const next = new Int32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = value;
  }

  toArray(): Int32Array {
    return this.data.slice(0, this.length);
  }
}
