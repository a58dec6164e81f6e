import { Gauge, Registry } from 'prom-client';
import { DRIFT_METHOD_LABEL } from './monitoring-results';
import { WindowReport } from './window-evaluation';

/**
 * The Prometheus series reserved for monitoring (docs/metrics.md), set from the scheduler's
 * primary window. A figure that could not be computed removes its series instead of exporting
 * NaN; a version that is no longer live loses all of its series.
 */
export class MonitoringGauges {
  private readonly driftScore: Gauge<'model' | 'version' | 'feature' | 'method'>;
  private readonly driftDetected: Gauge<'model' | 'version' | 'feature'>;
  private readonly driftShare: Gauge<'model' | 'version'>;
  private readonly quality: Gauge<'model' | 'version' | 'metric'>;
  private readonly coverage: Gauge<'model' | 'version'>;
  private readonly estimated: Gauge<'model' | 'version' | 'metric'>;
  /** Label sets set per version key, so stale series can be removed. */
  private readonly setByVersion = new Map<string, Array<() => void>>();

  constructor(registry: Registry) {
    const registers = [registry];
    this.driftScore = new Gauge({
      name: 'argus_drift_score',
      help: 'Drift statistic of one feature against the reference profile (method: psi, kl, jensenshannon, wasserstein, ks, chi2, hellinger).',
      labelNames: ['model', 'version', 'feature', 'method'] as const,
      registers,
    });
    this.driftDetected = new Gauge({
      name: 'argus_drift_detected',
      help: '1 when the feature drifts by its method threshold.',
      labelNames: ['model', 'version', 'feature'] as const,
      registers,
    });
    this.driftShare = new Gauge({
      name: 'argus_drifted_features_share',
      help: 'Share of monitored features that drift (dataset drift at >= 0.5).',
      labelNames: ['model', 'version'] as const,
      registers,
    });
    this.quality = new Gauge({
      name: 'argus_quality_metric',
      help: 'Quality measured against ground-truth feedback.',
      labelNames: ['model', 'version', 'metric'] as const,
      registers,
    });
    this.coverage = new Gauge({
      name: 'argus_label_coverage_ratio',
      help: "Share of the window's predictions that have feedback.",
      labelNames: ['model', 'version'] as const,
      registers,
    });
    this.estimated = new Gauge({
      name: 'argus_estimated_performance',
      help: 'Label-free CBPE performance estimate.',
      labelNames: ['model', 'version', 'metric'] as const,
      registers,
    });
  }

  private clear(key: string): void {
    for (const remove of this.setByVersion.get(key) ?? []) remove();
    this.setByVersion.delete(key);
  }

  /** Drops the series of versions that are not in `live` (`model@version` keys). */
  retain(live: ReadonlySet<string>): void {
    for (const key of [...this.setByVersion.keys()]) if (!live.has(key)) this.clear(key);
  }

  update(report: WindowReport): void {
    const key = `${report.model}@${report.version}`;
    this.clear(key);
    const removers: Array<() => void> = [];
    const base = { model: report.model, version: String(report.version) };
    const set = <L extends string>(gauge: Gauge<L>, labels: Record<L, string>, value: unknown) => {
      if (typeof value !== 'number' || !Number.isFinite(value)) return;
      gauge.set(labels, value);
      removers.push(() => gauge.remove(labels));
    };
    const drift = report.drift;
    if (drift) {
      for (const f of drift.features) {
        if (f.status !== 'ok') continue;
        const feature = { ...base, feature: f.name };
        set(this.driftScore, { ...feature, method: DRIFT_METHOD_LABEL[f.method] }, f.score);
        set(this.driftDetected, feature, f.drift ? 1 : 0);
      }
      if (drift.status === 'ok') set(this.driftShare, base, drift.drift_share);
    }
    set(this.coverage, base, report.label_coverage);
    const q = report.quality;
    if (q?.task === 'classification' && q.status === 'ok') {
      set(this.quality, { ...base, metric: 'accuracy' }, q.accuracy);
      set(this.quality, { ...base, metric: 'f1_macro' }, q.macro_f1);
      set(this.quality, { ...base, metric: 'precision_macro' }, q.macro_precision);
      set(this.quality, { ...base, metric: 'recall_macro' }, q.macro_recall);
    } else if (q?.task === 'regression' && q.status === 'ok') {
      set(this.quality, { ...base, metric: 'mae' }, q.mae);
      set(this.quality, { ...base, metric: 'rmse' }, q.rmse);
    }
    const e = report.estimated;
    if (e?.status === 'ok') {
      set(this.estimated, { ...base, metric: 'accuracy' }, e.metrics.accuracy?.value);
      set(this.estimated, { ...base, metric: 'f1_macro' }, e.metrics.f1?.value);
      set(this.estimated, { ...base, metric: 'precision_macro' }, e.metrics.precision?.value);
      set(this.estimated, { ...base, metric: 'recall_macro' }, e.metrics.recall?.value);
    }
    this.setByVersion.set(key, removers);
  }
}
