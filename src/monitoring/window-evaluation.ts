import {
  AnalyticsStore,
  MonitoringBinAggregate,
  MonitoringLabelAggregate,
  MonitoringScoreBin,
} from '../store/analytics-store';
import { isMinuteAligned } from '../store/prediction-aggregates';
import { MonitoringLayout, monitoringLayout } from './monitoring-layout';
import { MULTIVARIATE_FEATURE } from './monitoring-results';
import {
  FeatureProfile,
  FeatureWindow,
  ProfileDriftOptions,
  ReconstructionDrift,
  featureWindowDrift,
  reconstructionDrift,
} from './reference-profile';
import {
  CalibrationBin,
  CbpeEstimate,
  CbpeSegmentSums,
  ClassificationQuality,
  DEFAULT_MIN_ROWS,
  DatasetDrift,
  FeatureDrift,
  FeatureDriftOptions,
  MulticlassAuc,
  RegressionQuality,
  binCount,
  categoryBinIndexer,
  cbpeSumsFromSegments,
  classificationQuality,
  datasetDrift,
  estimateCbpe,
  expectedCalibrationError,
  featureDriftFromCounts,
  logLossFromSums,
  oneVsRestAucFromHistograms,
  regressionQuality,
  rocAucFromHistograms,
} from './stats';
import { VersionProfile } from './version-profile';

/**
 * One evaluation of one model version over one window: a handful of aggregate queries pushed down
 * to the store, turned into statistics here. Minute-aligned windows read counts, every feature's
 * bins and the CBPE sums from the insert-time aggregates (one small query); other windows scan the
 * predictions (bins and counts). Quality is one pass over the labeled predictions. Nothing
 * row-sized crosses into Node.
 */

export interface EvaluationWindow {
  /** `1h`, `rows:1000`, `custom`: how the window was chosen. */
  label: string;
  /** ms since the epoch; `to` exclusive. */
  from: number;
  to: number;
}

export interface EvaluationTarget {
  model: string;
  version: number;
  task: 'classification' | 'regression' | 'unknown';
  /** Class names as logged (`label`), class-index order; null when unknown. */
  classNames: string[] | null;
  profile: VersionProfile | null;
  /**
   * Drift methods and thresholds for this model (from `monitoring.thresholds` / `monitoring.drift`).
   * `features` is keyed by the names results carry (`monitoring-results.ts`): the monitored feature
   * (`__row_mean`… for wide inputs), `__output.<name>` for outputs, `__reconstruction_error`.
   * Absent: Evidently's default method and threshold per feature.
   */
  drift?: ProfileDriftOptions;
}

export interface DriftReport extends Omit<DatasetDrift, 'features'> {
  compared_with: 'reference' | 'window';
  /** Predictions of the window binned against the profile. */
  monitored_rows: number;
  features: FeatureDrift[];
  /** Prediction (class / value), label and per-class score drift. */
  outputs: FeatureDrift[];
  /** Wide inputs: drift of the PCA reconstruction error (histogram and NannyML band). */
  multivariate: { histogram: FeatureDrift; band: ReconstructionDrift } | null;
  /** True: KS / Wasserstein come from the reference bins (no raw values in SQL); see docs. */
  binned_approximation: true;
}

export interface ClassificationReport extends ClassificationQuality {
  task: 'classification';
  class_names: string[];
  roc_auc: number | null;
  roc_auc_per_class: (number | null)[] | null;
  log_loss: number | null;
  /** Top-label expected calibration error (10 equal-width bins). */
  calibration_error: number | null;
}

export interface RegressionReport extends RegressionQuality {
  task: 'regression';
  total_rows: number;
  labeled_rows: number;
  label_coverage: number | null;
}

export interface EstimatedPerformanceReport extends CbpeEstimate {
  calibration: VersionProfile['cbpe_calibration'];
  /** Binary: the positive class (class 1); multiclass: one-vs-rest macro averages. */
  averaging: 'positive_class' | 'macro';
}

export interface WindowReport {
  model: string;
  version: number;
  window: EvaluationWindow;
  /** Successful predictions in the window (distinct ids). */
  rows: number;
  labeled_rows: number;
  label_coverage: number | null;
  profile: { source: VersionProfile['source']; rows: number; created_at: string } | null;
  drift: DriftReport | null;
  quality: ClassificationReport | RegressionReport | null;
  estimated: EstimatedPerformanceReport | null;
  notes: string[];
}

export const TOP_SCORE_BINS = 10;
export const AUC_SCORE_BINS = 100;

/** Counts per 1-based position and bin, rows per predicted label, CBPE segment sums. */
interface BinTable {
  counts: Map<number, Map<number, number>>;
  rowsPerLabel: Map<string, number>;
  monitoredRows: number;
  segments: MonitoringBinAggregate[];
}

function binTable(
  aggregates: readonly MonitoringBinAggregate[],
  layout: MonitoringLayout,
): BinTable {
  const counts = new Map<number, Map<number, number>>();
  const rowsPerLabel = new Map<string, number>();
  const segments: MonitoringBinAggregate[] = [];
  let monitoredRows = 0;
  for (const a of aggregates) {
    let bins = counts.get(a.position);
    if (!bins) counts.set(a.position, (bins = new Map<number, number>()));
    bins.set(a.bin, (bins.get(a.bin) ?? 0) + a.count);
    if (a.position === 1) {
      rowsPerLabel.set(a.label, (rowsPerLabel.get(a.label) ?? 0) + a.count);
      monitoredRows += a.count;
    }
    if (a.position > layout.segmentOffset) segments.push(a);
  }
  return { counts, rowsPerLabel, monitoredRows, segments };
}

function countsAt(table: BinTable, position: number, size: number): number[] {
  const out = new Array<number>(size).fill(0);
  for (const [bin, count] of table.counts.get(position) ?? []) {
    // A bin outside the layout cannot come from this profile's ingest; it is counted as "other".
    out[bin < size ? bin : size - 1] += count;
  }
  return out;
}

/** Histogram of a categorical output profile over class indexes, from counts per class name. */
function classCounts(
  feature: FeatureProfile,
  classNames: readonly string[],
  perName: ReadonlyMap<string, number>,
): number[] {
  const out = new Array<number>(binCount(feature)).fill(0);
  if (feature.type !== 'categorical') return out;
  const indexer = categoryBinIndexer(feature.categories);
  const byName = new Map(classNames.map((n, k) => [n, k]));
  for (const [name, count] of perName) {
    const k = byName.get(name);
    out[k === undefined ? feature.categories.length + 1 : indexer(k)] += count;
  }
  return out;
}

/** Mean reconstruction error of a window from its bins: each bin at the reference's mean in it. */
function approximateErrorSum(feature: FeatureProfile, counts: readonly number[]): number {
  if (feature.type !== 'numerical' || feature.edges.length === 0) return 0;
  const k = feature.edges.length - 1;
  let sum = 0;
  for (let b = 1; b < counts.length; b++) {
    if (counts[b] === 0) continue;
    let value: number;
    if (b === k + 1) value = feature.edges[0];
    else if (b === k + 2) value = feature.edges[k];
    else
      value =
        feature.counts[b] > 0
          ? feature.sums[b] / feature.counts[b]
          : (feature.edges[b - 1] + feature.edges[Math.min(b, k)]) / 2;
    sum += counts[b] * value;
  }
  return sum;
}

function featureWindows(layout: MonitoringLayout, table: BinTable): Map<string, number[]> {
  const out = new Map<string, number[]>();
  layout.features.forEach((f, i) => out.set(f.name, countsAt(table, i + 1, binCount(f))));
  let p = layout.features.length + 1;
  if (layout.reconstruction) {
    out.set(layout.reconstruction.name, countsAt(table, p, binCount(layout.reconstruction)));
    p++;
  }
  for (const s of layout.scores) out.set(s.name, countsAt(table, p++, binCount(s)));
  return out;
}

/** The result name of an output's drift (`monitoring-results.ts` writes outputs under it). */
function outputKey(name: string): string {
  return `__output.${name}`;
}

/** Every drift series a version's layout judges, by result name (the keys of overrides). */
function judgedFeatures(
  layout: MonitoringLayout,
  profile: VersionProfile,
): Map<string, FeatureProfile> {
  const out = new Map<string, FeatureProfile>();
  for (const f of layout.features) out.set(f.name, f);
  const outputs = profile.profile.outputs;
  if (outputs?.task === 'classification') {
    if (outputs.prediction) out.set(outputKey(outputs.prediction.name), outputs.prediction);
    if (outputs.label) out.set(outputKey(outputs.label.name), outputs.label);
  }
  for (const s of layout.scores) out.set(outputKey(s.name), s);
  if (layout.reconstruction) out.set(MULTIVARIATE_FEATURE, layout.reconstruction);
  return out;
}

/** Drift overrides checked against a version's profile: the usable ones, and why others are not. */
export interface CheckedDriftOverrides {
  usable: Map<string, FeatureDriftOptions>;
  problems: string[];
}

/**
 * Which of the target's per-feature overrides apply to its profile. The config is checked at boot
 * for what it can know alone; the features and their types come with each version's profile, so
 * an override of a feature the version does not monitor, or a numerical method (KS, Wasserstein)
 * for a categorical feature, is left out here — the feature keeps its default method — and
 * reported, instead of failing every evaluation of the model.
 */
export function checkDriftOverrides(target: EvaluationTarget): CheckedDriftOverrides {
  const usable = new Map<string, FeatureDriftOptions>();
  const problems: string[] = [];
  const overrides = target.drift?.features;
  if (!overrides || !target.profile) return { usable, problems };
  const judged = judgedFeatures(monitoringLayout(target.profile), target.profile);
  const at = `${target.model}@${target.version}`;
  for (const [key, override] of Object.entries(overrides)) {
    const feature = judged.get(key);
    if (!feature) {
      problems.push(
        `drift override for '${key}' ignored: ${at} monitors no such feature (monitored: ${[...judged.keys()].join(', ')})`,
      );
    } else if (
      feature.type === 'categorical' &&
      (override.method === 'ks' || override.method === 'wasserstein')
    ) {
      problems.push(
        `drift override for '${key}' ignored: method '${override.method}' needs a numerical feature, and '${key}' is categorical in ${at}'s profile`,
      );
    } else usable.set(key, override);
  }
  return { usable, problems };
}

function driftReport(
  target: EvaluationTarget,
  layout: MonitoringLayout,
  current: BinTable,
  baseline: BinTable | null,
  labelCounts: ReadonlyMap<string, number> | null,
  overrides: ReadonlyMap<string, FeatureDriftOptions>,
): DriftReport {
  const profile = target.profile!.profile;
  const classNames = target.classNames ?? [];
  const currentWindows = featureWindows(layout, current);
  const baselineWindows = baseline ? featureWindows(layout, baseline) : null;
  const options = target.drift ?? {};
  // `key`: the series' result name, which overrides are keyed by (output profiles are named
  // `prediction`, `score[…]`, which an input feature may be named too).
  const judge = (
    key: string,
    feature: FeatureProfile,
    counts: number[],
    baselineCounts?: number[],
  ): FeatureDrift => {
    const own = overrides.get(key);
    if (baselineCounts) {
      // Window against window: the configured method and threshold, never a learned one. Those
      // measure how far a reference chunk strays from the whole reference; two windows are both
      // samples (about twice the noise), and the baseline's size may pick another default method.
      return featureDriftFromCounts(feature, baselineCounts, counts, {
        minRows: options.minRows,
        chiSquare: options.chiSquare,
        ...own,
      });
    }
    return featureWindowDrift(feature, { counts } satisfies FeatureWindow, {
      ...options,
      features: own ? { [feature.name]: own } : undefined,
    });
  };
  const features = layout.features.map((f) =>
    judge(f.name, f, currentWindows.get(f.name)!, baselineWindows?.get(f.name)),
  );
  const outputs: FeatureDrift[] = [];
  const out = profile.outputs;
  if (out?.prediction && out.task === 'classification') {
    outputs.push(
      judge(
        outputKey(out.prediction.name),
        out.prediction,
        classCounts(out.prediction, classNames, current.rowsPerLabel),
        baseline ? classCounts(out.prediction, classNames, baseline.rowsPerLabel) : undefined,
      ),
    );
  }
  if (out?.label && out.task === 'classification' && labelCounts && !baseline) {
    outputs.push(
      judge(outputKey(out.label.name), out.label, classCounts(out.label, classNames, labelCounts)),
    );
  }
  for (const s of layout.scores) {
    outputs.push(
      judge(outputKey(s.name), s, currentWindows.get(s.name)!, baselineWindows?.get(s.name)),
    );
  }
  let multivariate: DriftReport['multivariate'] = null;
  if (layout.reconstruction) {
    const counts = currentWindows.get(layout.reconstruction.name)!;
    const rows = counts.reduce((a, b) => a + b, 0) - counts[0];
    multivariate = {
      histogram: judge(
        MULTIVARIATE_FEATURE,
        layout.reconstruction,
        counts,
        baselineWindows?.get(layout.reconstruction.name),
      ),
      // The band is NannyML's learned threshold already (reference chunk means ± 3σ).
      band: reconstructionDrift(
        profile,
        { rows, sum_error: approximateErrorSum(layout.reconstruction, counts) },
        options.minRows,
      ),
    };
  }
  const dataset = datasetDrift(features, options.driftShareThreshold);
  return {
    ...dataset,
    compared_with: baseline ? 'window' : 'reference',
    monitored_rows: current.monitoredRows,
    features,
    outputs,
    multivariate,
    binned_approximation: true,
  };
}

function classificationReport(
  classNames: string[],
  totalRows: number,
  labels: readonly MonitoringLabelAggregate[],
  histogram: readonly MonitoringScoreBin[],
): ClassificationReport {
  const names = classNames.slice();
  const index = new Map(names.map((n, k) => [n, k]));
  const indexOf = (name: string): number => {
    let k = index.get(name);
    if (k === undefined) {
      k = names.length;
      names.push(name);
      index.set(name, k);
    }
    return k;
  };
  for (const a of labels) {
    indexOf(a.actual_label);
    indexOf(a.label);
  }
  const k = names.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const calibration: CalibrationBin[] = Array.from({ length: TOP_SCORE_BINS }, () => ({
    count: 0,
    sum_probability: 0,
    sum_outcome: 0,
  }));
  let logLossSum = 0;
  let logLossRows = 0;
  let labeled = 0;
  for (const a of labels) {
    confusion[indexOf(a.actual_label)][indexOf(a.label)] += a.count;
    labeled += a.count;
    const bin = calibration[Math.min(TOP_SCORE_BINS - 1, Math.max(0, a.top_bin))];
    bin.count += a.count;
    bin.sum_probability += a.sum_top_score;
    if (a.label === a.actual_label) bin.sum_outcome += a.count;
    logLossSum += a.sum_log_loss;
    logLossRows += a.log_loss_rows;
  }
  const quality = classificationQuality(confusion, {
    totalRows: Math.max(totalRows, labeled),
    minRows: DEFAULT_MIN_ROWS,
  });
  const enough = quality.status === 'ok';
  // Score histograms per class: positives are rows whose true label is that class.
  const scoreClasses = classNames.length;
  const perClass = Array.from({ length: scoreClasses }, () => ({
    positive: new Array<number>(AUC_SCORE_BINS).fill(0),
    negative: new Array<number>(AUC_SCORE_BINS).fill(0),
  }));
  for (const h of histogram) {
    if (h.class_index < 0 || h.class_index >= scoreClasses) continue;
    const side = h.actual_label === classNames[h.class_index] ? 'positive' : 'negative';
    perClass[h.class_index][side][Math.min(AUC_SCORE_BINS - 1, Math.max(0, h.bin))] += h.count;
  }
  let rocAuc: number | null = null;
  let perClassAuc: (number | null)[] | null = null;
  if (enough && scoreClasses === 2) {
    rocAuc = rocAucFromHistograms(perClass[1].positive, perClass[1].negative);
  } else if (enough && scoreClasses > 2) {
    const auc: MulticlassAuc = oneVsRestAucFromHistograms(perClass);
    rocAuc = auc.macro;
    perClassAuc = auc.per_class;
  }
  return {
    task: 'classification',
    class_names: names,
    ...quality,
    roc_auc: rocAuc,
    roc_auc_per_class: perClassAuc,
    log_loss: enough ? logLossFromSums(logLossSum, logLossRows) : null,
    calibration_error: enough ? expectedCalibrationError(calibration) : null,
  };
}

function estimatedReport(
  target: EvaluationTarget,
  layout: MonitoringLayout,
  table: BinTable,
): EstimatedPerformanceReport | null {
  const cbpe = layout.cbpe;
  const classNames = target.classNames;
  if (!cbpe || !classNames) return null;
  const byName = new Map(classNames.map((n, k) => [n, k]));
  const rowsPerClass = new Array<number>(cbpe.class_count).fill(0);
  for (const [label, count] of table.rowsPerLabel) {
    const k = byName.get(label);
    if (k !== undefined && k < cbpe.class_count) rowsPerClass[k] += count;
  }
  const segments: CbpeSegmentSums[] = [];
  for (const s of table.segments) {
    const c = byName.get(s.label);
    const k = s.position - layout.segmentOffset - 1;
    if (c === undefined || c >= cbpe.class_count || k < 0 || k >= cbpe.class_count) continue;
    segments.push({
      predicted_class: c,
      class_index: k,
      segment: s.bin,
      count: s.count,
      sum_score: s.sum_score,
    });
  }
  const estimate = estimateCbpe(
    cbpe,
    cbpeSumsFromSegments(cbpe, rowsPerClass, segments),
    DEFAULT_MIN_ROWS,
  );
  return {
    ...estimate,
    calibration: target.profile?.cbpe_calibration ?? null,
    averaging: cbpe.class_count === 2 ? 'positive_class' : 'macro',
  };
}

async function totalRows(
  store: AnalyticsStore,
  target: EvaluationTarget,
  window: EvaluationWindow,
) {
  const counts = await store.countPredictions({
    model: target.model,
    version: target.version,
    from: window.from,
    to: window.to,
  });
  return counts.filter((c) => c.status < 400).reduce((s, c) => s + c.count, 0);
}

async function readBins(
  store: AnalyticsStore,
  target: EvaluationTarget,
  layout: MonitoringLayout,
  window: EvaluationWindow,
  source: AggregateSource,
): Promise<BinTable> {
  const query = {
    model: target.model,
    version: target.version,
    from: window.from,
    to: window.to,
    width: layout.width,
    scoreOffset: layout.segmentOffset,
  };
  const aggregates = useIngestAggregates(window, source)
    ? (await store.monitoringIngestAggregates(query)).bins
    : await store.monitoringBinAggregates(query);
  return binTable(aggregates, layout);
}

/**
 * Row count and bin table of a window. Minute-aligned windows read the insert-time aggregates
 * (one small query for both); others scan the predictions (bins and count side by side).
 */
async function readWindow(
  store: AnalyticsStore,
  target: EvaluationTarget,
  layout: MonitoringLayout | null,
  window: EvaluationWindow,
  needBins: boolean,
  source: AggregateSource,
): Promise<{ rows: number; table: BinTable | null }> {
  if (useIngestAggregates(window, source)) {
    const aggregates = await store.monitoringIngestAggregates({
      model: target.model,
      version: target.version,
      from: window.from,
      to: window.to,
      width: layout?.width ?? 0,
      scoreOffset: layout?.segmentOffset ?? 0,
    });
    return {
      rows: aggregates.rows,
      table: layout && needBins ? binTable(aggregates.bins, layout) : null,
    };
  }
  const [table, rows] = await Promise.all([
    layout && needBins ? readBins(store, target, layout, window, source) : Promise.resolve(null),
    totalRows(store, target, window),
  ]);
  return { rows, table };
}

/**
 * `auto`: minute-aligned windows use the insert-time aggregates (docs/monitoring.md "Aggregates at
 * ingest") and quality one pass over the labeled rows; `raw`: every figure from the predictions
 * table with the per-kind queries (the reference the aggregates are tested against).
 */
export type AggregateSource = 'auto' | 'raw';

function useIngestAggregates(window: EvaluationWindow, source: AggregateSource): boolean {
  return source === 'auto' && isMinuteAligned(window);
}

export interface EvaluateOptions {
  /** Compare drift with this window instead of the reference profile. */
  baseline?: EvaluationWindow;
  /** Leave out parts (the API's /drift and /quality compute only what they show). */
  include?: { drift?: boolean; quality?: boolean; estimated?: boolean };
  /** Default `auto`. */
  source?: AggregateSource;
}

/** Evaluates one version over one window with the store's aggregates. */
export async function evaluateWindow(
  store: AnalyticsStore,
  target: EvaluationTarget,
  window: EvaluationWindow,
  options: EvaluateOptions = {},
): Promise<WindowReport> {
  const include = { drift: true, quality: true, estimated: true, ...options.include };
  const query = { model: target.model, version: target.version, from: window.from, to: window.to };
  const notes: string[] = [];
  const layout = target.profile ? monitoringLayout(target.profile) : null;
  if (!target.profile)
    notes.push('no reference profile yet: drift and estimated performance wait for one');

  const source = options.source ?? 'auto';
  const classNames = target.classNames ?? [];
  const wantsLabels = target.task === 'classification' && (include.quality || include.drift);
  const readLabels = async () => {
    if (!wantsLabels) return null;
    const labelQuery = { ...query, classNames, topScoreBins: TOP_SCORE_BINS };
    if (source === 'auto') return store.monitoringQualityAggregates(labelQuery);
    const [labels, histogram] = await Promise.all([
      store.monitoringLabelAggregates(labelQuery),
      include.quality ? store.monitoringScoreHistogram(query) : Promise.resolve([]),
    ]);
    return { labels, histogram };
  };
  // Independent aggregates: issued together (ClickHouse runs them side by side).
  const [{ table, rows }, quality] = await Promise.all([
    readWindow(
      store,
      target,
      layout,
      window,
      Boolean(layout && (include.drift || include.estimated)),
      source,
    ),
    readLabels(),
  ]);
  let classification: ClassificationReport | null = null;
  let regression: RegressionReport | null = null;
  let labelCounts: Map<string, number> | null = null;
  let labeledRows = 0;
  if (quality) {
    const { labels, histogram } = quality;
    labelCounts = new Map();
    for (const a of labels) {
      labelCounts.set(a.actual_label, (labelCounts.get(a.actual_label) ?? 0) + a.count);
      labeledRows += a.count;
    }
    if (include.quality) classification = classificationReport(classNames, rows, labels, histogram);
  } else if (target.task === 'regression' && include.quality) {
    const sums = await store.monitoringRegressionSums(query);
    labeledRows = sums.count;
    regression = {
      task: 'regression',
      ...regressionQuality(sums, DEFAULT_MIN_ROWS),
      total_rows: Math.max(rows, sums.count),
      labeled_rows: sums.count,
      label_coverage: rows > 0 ? Math.min(1, sums.count / rows) : null,
    };
  }
  let drift: DriftReport | null = null;
  if (layout && table && include.drift) {
    const baseline = options.baseline
      ? await readBins(store, target, layout, options.baseline, source)
      : null;
    const overrides = checkDriftOverrides(target);
    notes.push(...overrides.problems);
    drift = driftReport(target, layout, table, baseline, labelCounts, overrides.usable);
    if (table.monitoredRows < rows) {
      notes.push(
        `${rows - table.monitoredRows} of ${rows} predictions have no feature bins (inputs not logged, or logged before the profile existed) and are not part of the drift figures`,
      );
    }
  }
  const estimated =
    layout && table && include.estimated ? estimatedReport(target, layout, table) : null;
  if (estimated?.calibration === 'uncalibrated_no_labels') {
    notes.push(
      'estimated performance uses uncalibrated probabilities: the reference had no labels',
    );
  }
  const profile = target.profile;
  return {
    model: target.model,
    version: target.version,
    window,
    rows,
    labeled_rows: labeledRows,
    label_coverage: rows > 0 ? Math.min(1, labeledRows / rows) : null,
    profile: profile
      ? { source: profile.source, rows: profile.profile.rows, created_at: profile.created_at }
      : null,
    drift,
    quality: classification ?? regression,
    estimated,
    notes,
  };
}
