import {
  FeatureProfile,
  NumericalFeatureProfile,
  monitoredFeatures,
  summaryFeatureValues,
} from './reference-profile';
import {
  CbpeModel,
  binIndex,
  calibratorSegment,
  categoryBinIndexer,
  reconstructionError,
} from './stats';
import { VersionProfile } from './version-profile';

/**
 * What one prediction's `feature_bins` holds (DESIGN.md §3), fixed by the version's profile so
 * every later window is a GROUP BY away from a full report. Positions, 0-based:
 *
 *   0 … F−1         bin of each monitored feature (≤ 64 raw features, or the summary features of
 *                   a wide input: row mean, std, zero share, max)
 *   F               (wide inputs) bin of the row's PCA reconstruction error
 *   next K          (classifiers) bin of each class score against the reference score histogram
 *   last K          (classifiers with CBPE) calibrator segment of each class score
 *
 * Every index is ≤ 255: numerical layouts have at most 23 bins, categorical ones 52, calibrators
 * at most 65 segments.
 */
export interface MonitoringLayout {
  width: number;
  features: FeatureProfile[];
  reconstruction: NumericalFeatureProfile | null;
  scores: NumericalFeatureProfile[];
  /** 0-based position of the first CBPE segment; `width` when there are none. */
  segmentOffset: number;
  cbpe: CbpeModel | null;
}

export function monitoringLayout(versionProfile: VersionProfile): MonitoringLayout {
  const { profile, cbpe } = versionProfile;
  const features = monitoredFeatures(profile);
  const reconstruction = profile.multivariate?.reconstruction_error ?? null;
  const scores = profile.outputs?.task === 'classification' ? profile.outputs.scores : [];
  const usedCbpe = cbpe && cbpe.class_count === scores.length ? cbpe : null;
  const segmentOffset = features.length + (reconstruction ? 1 : 0) + scores.length;
  return {
    width: segmentOffset + (usedCbpe ? usedCbpe.class_count : 0),
    features,
    reconstruction,
    scores,
    segmentOffset,
    cbpe: usedCbpe,
  };
}

type ValueBinner = (row: ArrayLike<number>, summaries: () => number[]) => number;

/** A layout compiled into per-position functions: the ingest path calls `binsOf` per row. */
export interface CompiledLayout {
  layout: MonitoringLayout;
  columns: number;
  binsOf(inputs: ArrayLike<number>, scores: ArrayLike<number>): number[] | undefined;
}

export function compileLayout(versionProfile: VersionProfile): CompiledLayout {
  const layout = monitoringLayout(versionProfile);
  const { profile } = versionProfile;
  const wide = profile.wide;
  const binners: ValueBinner[] = layout.features.map((feature, f) => {
    const read = (row: ArrayLike<number>, summaries: () => number[]): number =>
      wide ? summaries()[f] : row[feature.column];
    if (feature.type === 'numerical') {
      const edges = feature.edges;
      return (row, summaries) => binIndex(edges, read(row, summaries));
    }
    const indexer = categoryBinIndexer(feature.categories);
    return (row, summaries) => {
      const x = read(row, summaries);
      return indexer(Number.isNaN(x) ? null : x);
    };
  });
  const pca = profile.multivariate?.pca ?? null;
  const reconstructionEdges = layout.reconstruction?.edges ?? null;
  const scoreEdges = layout.scores.map((s) => s.edges);
  const calibrators = layout.cbpe?.calibrators ?? [];
  const classCount = layout.scores.length;
  return {
    layout,
    columns: profile.columns,
    binsOf(inputs, scores) {
      if (inputs.length !== profile.columns) return undefined;
      if (classCount > 0 && scores.length !== classCount) return undefined;
      let summaryCache: number[] | undefined;
      const summaries = (): number[] => (summaryCache ??= summaryFeatureValues(inputs));
      const bins = new Array<number>(layout.width);
      let p = 0;
      for (const binner of binners) bins[p++] = binner(inputs, summaries);
      if (pca && reconstructionEdges)
        bins[p++] = binIndex(reconstructionEdges, reconstructionError(pca, inputs));
      for (let k = 0; k < classCount; k++) bins[p++] = binIndex(scoreEdges[k], scores[k]);
      for (let k = 0; k < calibrators.length; k++)
        bins[p++] = calibratorSegment(calibrators[k], scores[k]);
      return bins;
    },
  };
}
