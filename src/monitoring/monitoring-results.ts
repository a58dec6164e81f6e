import { MonitoringResult, MonitoringStatus } from '../store/analytics-store';
import { DriftMethod, FeatureDrift } from './stats';
import { WindowReport } from './window-evaluation';

/**
 * A window report as `monitoring_results` rows, named as docs/metrics.md fixes them
 * (`drift.<method>` per feature, `drift.share`, `quality.<metric>`, `estimated.<metric>`,
 * `coverage.labels`). A figure that could not be computed is a row with status
 * `insufficient_data` and value 0 (the column is not nullable); never NaN.
 */

/** The `method` label values of `argus_drift_score` (docs/metrics.md). */
export const DRIFT_METHOD_LABEL: Readonly<Record<DriftMethod, string>> = {
  ks: 'ks',
  wasserstein: 'wasserstein',
  psi: 'psi',
  kl: 'kl',
  jensen_shannon: 'jensenshannon',
  hellinger: 'hellinger',
  chi_square: 'chi2',
};

/** Feature name of the multivariate (PCA reconstruction error) drift rows. */
export const MULTIVARIATE_FEATURE = '__reconstruction_error';

export interface ResultOptions {
  /** accuracy / f1_macro below this → alert. */
  qualityThreshold: number;
  now: number;
}

function finite(value: number | null | undefined): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

export function windowResults(report: WindowReport, options: ResultOptions): MonitoringResult[] {
  const base = {
    model: report.model,
    model_version: report.version,
    window_start: report.window.from,
    window_end: report.window.to,
    ts: options.now,
  };
  const out: MonitoringResult[] = [];
  const push = (
    metric: string,
    feature: string,
    value: number | null | undefined,
    threshold: number | null,
    status: MonitoringStatus,
  ): void => {
    const ok = finite(value);
    out.push({
      ...base,
      metric,
      feature,
      value: ok ? value : 0,
      threshold: finite(threshold) ? threshold : null,
      status: ok ? status : 'insufficient_data',
    });
  };
  const pushDrift = (f: FeatureDrift, feature: string = f.name): void => {
    push(
      `drift.${DRIFT_METHOD_LABEL[f.method]}`,
      feature,
      f.status === 'ok' ? f.score : null,
      f.threshold,
      f.drift ? 'alert' : 'ok',
    );
    for (const s of f.signals) {
      push(
        `drift.${s.signal}`,
        feature,
        s.status === 'ok' && s.current !== null ? s.current : null,
        s.threshold,
        s.drift ? 'alert' : 'ok',
      );
    }
  };
  const drift = report.drift;
  if (drift) {
    for (const f of drift.features) pushDrift(f);
    for (const f of drift.outputs) pushDrift(f, `__output.${f.name}`);
    if (drift.multivariate) {
      const { band } = drift.multivariate;
      push(
        'drift.reconstruction_error',
        MULTIVARIATE_FEATURE,
        band.status === 'ok' ? band.mean_error : null,
        band.upper,
        band.drift ? 'alert' : 'ok',
      );
    }
    push(
      'drift.share',
      '',
      drift.drift_share,
      drift.drift_share_threshold,
      drift.dataset_drift ? 'alert' : 'ok',
    );
  }
  push('coverage.labels', '', report.label_coverage, null, 'ok');
  const q = report.quality;
  const lowIsBad = (value: number | null): MonitoringStatus =>
    finite(value) && value < options.qualityThreshold ? 'alert' : 'ok';
  if (q?.task === 'classification') {
    const ok = q.status === 'ok';
    const pick = (v: number | null) => (ok ? v : null);
    push('quality.accuracy', '', pick(q.accuracy), options.qualityThreshold, lowIsBad(q.accuracy));
    push('quality.f1_macro', '', pick(q.macro_f1), options.qualityThreshold, lowIsBad(q.macro_f1));
    push('quality.precision_macro', '', pick(q.macro_precision), null, 'ok');
    push('quality.recall_macro', '', pick(q.macro_recall), null, 'ok');
    push('quality.roc_auc', '', pick(q.roc_auc), null, 'ok');
    push('quality.log_loss', '', pick(q.log_loss), null, 'ok');
    push('quality.calibration_error', '', pick(q.calibration_error), null, 'ok');
  } else if (q?.task === 'regression') {
    const ok = q.status === 'ok';
    push('quality.mae', '', ok ? q.mae : null, null, 'ok');
    push('quality.rmse', '', ok ? q.rmse : null, null, 'ok');
    push('quality.mape', '', ok ? q.mape : null, null, 'ok');
    push('quality.r2', '', ok ? q.r2 : null, null, 'ok');
  }
  const e = report.estimated;
  if (e) {
    const names: Record<string, string> = {
      accuracy: 'accuracy',
      precision: 'precision_macro',
      recall: 'recall_macro',
      f1: 'f1_macro',
    };
    for (const [metric, name] of Object.entries(names)) {
      const m = e.metrics[metric as keyof typeof e.metrics];
      const gated = name === 'accuracy' || name === 'f1_macro';
      const belowThreshold = gated && m !== undefined && m.value < options.qualityThreshold;
      push(
        `estimated.${name}`,
        '',
        e.status === 'ok' ? m?.value : null,
        m?.alert_lower ?? (gated ? options.qualityThreshold : null),
        m?.alert || belowThreshold ? 'alert' : 'ok',
      );
    }
  }
  return out;
}
