import {
  multiplyAccumulate,
  multiplyNaive,
  multiplyTransposedAAccumulate,
  multiplyTransposedB,
  SeededRandom,
} from '../../../src/training';

function randomMatrix(rows: number, columns: number, random: SeededRandom, zeroShare = 0) {
  const out = new Float32Array(rows * columns);
  for (let i = 0; i < out.length; i++) {
    out[i] = random.nextFloat() < zeroShare ? 0 : random.nextFloat() * 2 - 1;
  }
  return out;
}

function transpose(a: Float32Array, rows: number, columns: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < columns; j++) out[j * rows + i] = a[i * columns + j];
  return out;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    expect(Math.abs(actual[i] - expected[i])).toBeLessThan(1e-4 * (1 + Math.abs(expected[i])));
  }
}

// Odd sizes exercise the unrolled-by-8, by-4 and remainder paths of the kernels.
const shapes: [number, number, number][] = [
  [1, 1, 1],
  [3, 7, 5],
  [17, 33, 9],
  [64, 100, 13],
];

describe('matrix kernels agree with the textbook triple loop', () => {
  const random = new SeededRandom(7);
  for (const [m, k, n] of shapes) {
    for (const zeroShare of [0, 0.8]) {
      it(`${m}×${k}·${k}×${n}, ${zeroShare * 100}% zeros in A`, () => {
        const a = randomMatrix(m, k, random, zeroShare);
        const b = randomMatrix(k, n, random);
        const expected = multiplyNaive(a, b, m, k, n);

        const c = new Float32Array(m * n).fill(0.5);
        const nonZeros = multiplyAccumulate(a, b, c, m, k, n);
        expectClose(
          c,
          expected.map((v) => v + 0.5),
        );
        expect(nonZeros).toBe(a.filter((v) => v !== 0).length);

        // Aᵀ·B with A stored as its transpose (k×m) must give the same product.
        const cT = new Float32Array(m * n);
        multiplyTransposedAAccumulate(transpose(a, m, k), b, cT, k, m, n);
        expectClose(cT, expected);

        // A·Bᵀ with B stored transposed (n×k).
        const cB = new Float32Array(m * n).fill(99);
        multiplyTransposedB(a, transpose(b, k, n), cB, m, k, n);
        expectClose(cB, expected);
      });
    }
  }
});
