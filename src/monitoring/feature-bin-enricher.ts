import { AdaptiveSlices, forEachInSlices } from '../common/event-loop-slices';
import { PredictionRecord } from '../predictions/prediction-record';
import { StoredPrediction } from '../store/analytics-store';
import { CompiledLayout } from './monitoring-layout';

/**
 * The ingest half of monitoring: gives each successful prediction its `feature_bins` (bin index
 * per monitored feature, reconstruction error, class scores and CBPE segments; see
 * `monitoring-layout.ts`) against its version's profile. Runs in the prediction writer's flush,
 * once per batch, so the request path pays nothing.
 *
 * A row keeps empty bins when its version has no loaded profile yet, when its inputs were not
 * logged (ARGUS_LOG_INPUTS=none, sampled out, or wider than the logging limit) or do not have the
 * profile's width. Drift is then computed over the rows that have bins (a sample, with sampling);
 * quality and label coverage count every row.
 *
 * Binning a wide row is real work (a PCA projection of 784 MNIST inputs is ~100k multiply-adds),
 * so a 5000-row flush binned in one go held the event loop for tens of milliseconds, which every
 * request arriving meanwhile paid in its latency. Rows are binned in ~1 ms slices with the event
 * loop handed back in between (common/event-loop-slices.ts).
 */
export async function enrichWithFeatureBins(
  rows: PredictionRecord[],
  layoutFor: (model: string, version: number) => CompiledLayout | undefined,
  slices: AdaptiveSlices = new AdaptiveSlices(),
): Promise<StoredPrediction[]> {
  let out: StoredPrediction[] | undefined;
  await forEachInSlices(
    rows.length,
    (i) => {
      const row = rows[i] as StoredPrediction;
      if (row.status >= 400 || row.inputs.length === 0 || (row.feature_bins?.length ?? 0) > 0) {
        return;
      }
      const layout = layoutFor(row.model, row.model_version);
      if (!layout) return;
      let bins: number[] | undefined;
      try {
        bins = layout.binsOf(row.inputs, row.scores);
      } catch {
        bins = undefined; // never lose a prediction over its bins
      }
      if (!bins) return;
      out ??= rows.slice();
      out[i] = { ...row, feature_bins: bins };
    },
    slices,
  );
  return out ?? rows;
}
