import { mnistRows } from '../../../bench/serving/payloads';
import {
  exactReconstructionError,
  fitPca,
  reconstructionError,
} from '../../../src/monitoring/stats/pca';
import { seededRandom } from '../../integration/monitoring/support';

/**
 * `reconstructionError` computes ‖z‖² − ‖Vz‖² over a row's non-zero values; it must agree with the
 * error computed as written (`exactReconstructionError`) on sparse and dense rows alike.
 */
describe('PCA reconstruction error, the fast form', () => {
  it('agrees with the textbook form on real MNIST digits (sparse rows)', () => {
    const rows = mnistRows(600);
    const model = fitPca(rows.slice(0, 400), { rangeFraction: 0.1 });
    expect(model.components.length).toBeGreaterThan(5);
    for (const row of rows.slice(400)) {
      const values = Float32Array.from(row);
      const exact = exactReconstructionError(model, values);
      expect(Math.abs(reconstructionError(model, values) - exact)).toBeLessThanOrEqual(
        1e-9 * Math.max(1, exact),
      );
    }
  });

  it('agrees on dense rows, rows inside the fitted subspace, and imputes NaN like the textbook form', () => {
    const random = seededRandom(7);
    const d = 12;
    const rows = Array.from({ length: 300 }, () => {
      const a = random() * 4 - 2;
      const b = random() * 4 - 2;
      return Array.from({ length: d }, (_, j) => a * (j + 1) + b * Math.cos(j) + random() * 0.1);
    });
    const model = fitPca(rows, { varianceToKeep: 0.9 });
    for (const row of rows.slice(0, 50)) {
      const exact = exactReconstructionError(model, row);
      expect(Math.abs(reconstructionError(model, row) - exact)).toBeLessThanOrEqual(
        1e-7 * Math.max(1, exact),
      );
    }
    // The centre of the data is in the subspace: error (near) zero, never NaN.
    const centre = model.center.slice();
    expect(reconstructionError(model, centre)).toBeLessThan(1e-6);
    const withNaN = rows[0].slice();
    withNaN[3] = NaN;
    expect(reconstructionError(model, withNaN)).toBe(exactReconstructionError(model, withNaN));
    expect(() => reconstructionError(model, rows[0].slice(1))).toThrow(/needs 12 values/);
  });
});
