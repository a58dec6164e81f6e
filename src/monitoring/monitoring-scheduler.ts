import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  Optional,
} from '@nestjs/common';
import { errorMessage } from '../common/errors';
import { ARGUS_CONFIG, ArgusConfig } from '../config';
import { ModelRuntime } from '../inference/model-runtime';
import { PredictionWriter } from '../predictions/prediction-writer';
import { ModelRegistry } from '../registry/model-registry';
import {
  ANALYTICS_STORE,
  AnalyticsStore,
  MonitoringResult,
  StoreEvent,
} from '../store/analytics-store';
import { ArgusMetrics } from '../telemetry/metrics';
import { enrichWithFeatureBins } from './feature-bin-enricher';
import { MonitoringGauges } from './monitoring-gauges';
import { windowResults } from './monitoring-results';
import { MonitoringService } from './monitoring.service';
import { ReferenceProfiles } from './reference-profiles';
import { AGGREGATE_MINUTE_MS } from '../store/prediction-aggregates';

const MONITORING_EVENT_TYPES = ['monitoring.drift', 'monitoring.quality'] as const;
const MAX_RESTORED_EVENTS = 1000;

export interface MonitoringRunSummary {
  /** `model@version` evaluated. */
  versions: string[];
  results: number;
  events: StoreEvent[];
  errors: string[];
}

/**
 * Every interval (ARGUS_MONITORING_INTERVAL_S, default 60 s) evaluates every live version (the
 * versions an alias points at) over every configured window: writes `monitoring_results`, sets
 * the Prometheus gauges from the first window, and records `monitoring.drift` /
 * `monitoring.quality` events in `events` when a result of the first window crosses into `alert`
 * or back out of it. At start-up it installs the ingest enricher that fills `feature_bins`.
 */
@Injectable()
export class MonitoringScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('monitoring');
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<MonitoringRunSummary> | undefined;
  private readonly gauges: MonitoringGauges;
  /** Last status per `model@version|metric|feature` of the primary window (alert transitions). */
  private readonly lastStatus = new Map<string, string>();
  /** Models whose alert state was restored from `events` (once per process, see restoreAlertState). */
  private readonly restoredModels = new Set<string>();

  constructor(
    @Inject(ARGUS_CONFIG) private readonly config: ArgusConfig,
    private readonly runtime: ModelRuntime,
    private readonly registry: ModelRegistry,
    private readonly profiles: ReferenceProfiles,
    private readonly monitoring: MonitoringService,
    @Inject(ANALYTICS_STORE) private readonly store: AnalyticsStore,
    metrics: ArgusMetrics,
    @Optional() private readonly writer?: PredictionWriter,
  ) {
    this.gauges = new MonitoringGauges(metrics.registry);
  }

  onApplicationBootstrap(): void {
    this.writer?.setPredictionEnricher((rows) =>
      enrichWithFeatureBins(rows, (model, version) => this.profiles.compiledFor(model, version)),
    );
    // Load (or build) the profiles of versions as they go live, so ingest can bin their rows.
    this.registry.onChange((name) => this.warmProfiles(name));
    const interval = this.config.monitoring.intervalSeconds;
    if (interval > 0) {
      this.timer = setInterval(() => {
        this.runOnce().catch((err: unknown) =>
          this.log.error(`monitoring run failed: ${errorMessage(err)}`),
        );
      }, interval * 1000);
      this.timer.unref();
    }
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private liveVersions(): Array<{ name: string; version: number; aliases: string[] }> {
    return this.runtime.loadedVersions();
  }

  /** Loads the profiles of a model's live versions (reads or builds them). Never throws. */
  async warmProfiles(name?: string): Promise<void> {
    for (const v of this.liveVersions()) {
      if (name !== undefined && v.name !== name) continue;
      await this.profiles
        .get(v.name, v.version)
        .catch((err: unknown) =>
          this.log.warn(`${v.name}@${v.version}: profile not loaded: ${errorMessage(err)}`),
        );
    }
  }

  /** One evaluation of every live version over every configured window. Runs are serialized. */
  runOnce(now: number = Date.now()): Promise<MonitoringRunSummary> {
    const previous = this.running ?? Promise.resolve(undefined);
    const run = previous.then(
      () => this.run(now),
      () => this.run(now),
    );
    this.running = run;
    return run;
  }

  private async run(now: number): Promise<MonitoringRunSummary> {
    const summary: MonitoringRunSummary = { versions: [], results: 0, events: [], errors: [] };
    const live = this.liveVersions();
    this.gauges.retain(new Set(live.map((v) => `${v.name}@${v.version}`)));
    for (const v of live) {
      const key = `${v.name}@${v.version}`;
      try {
        await this.restoreAlertState(v.name);
        if (!(await this.profiles.get(v.name, v.version))) {
          await this.profiles.buildFromLoggedPredictions(v.name, v.version);
        }
        const rows: MonitoringResult[] = [];
        const windows = this.config.monitoring.windows;
        // Windows end on the last whole minute: minute-aligned windows are answered from the
        // insert-time aggregates (docs/monitoring.md), and a finished minute no longer changes.
        const end = Math.floor(now / AGGREGATE_MINUTE_MS) * AGGREGATE_MINUTE_MS;
        for (let w = 0; w < windows.length; w++) {
          const window = await this.monitoring.resolveWindow(windows[w], v.name, v.version, end);
          const report = await this.monitoring.evaluate(v.name, v.version, window);
          const results = windowResults(report, {
            qualityThreshold: this.config.monitoring.qualityThreshold,
            now,
          });
          rows.push(...results);
          if (w === 0) {
            this.gauges.update(report);
            summary.events.push(...this.transitions(key, window.label, results, now));
          }
        }
        await this.store.insertMonitoringResults(rows);
        summary.results += rows.length;
        summary.versions.push(key);
      } catch (err) {
        summary.errors.push(`${key}: ${errorMessage(err)}`);
        this.log.warn(`monitoring ${key} failed: ${errorMessage(err)}`);
      }
    }
    if (summary.events.length > 0) {
      await this.store
        .insertEvents(summary.events)
        .catch((err: unknown) => summary.errors.push(`events: ${errorMessage(err)}`));
    }
    return summary;
  }

  /**
   * Seeds the alert state of a model from the newest `monitoring.*` events, so a restart neither
   * fires an ongoing alert a second time nor forgets to resolve one. Alerts older than
   * MAX_RESTORED_EVENTS events of a type are treated as resolved. A store failure leaves the state
   * empty (at worst one repeated event) and is retried at the next run.
   */
  private async restoreAlertState(model: string): Promise<void> {
    if (this.restoredModels.has(model)) return;
    const newestFirst: StoreEvent[] = [];
    for (const type of MONITORING_EVENT_TYPES) {
      newestFirst.push(
        ...(await this.store.listEvents({ type, model, limit: MAX_RESTORED_EVENTS })),
      );
    }
    newestFirst.sort((a, b) => b.ts - a.ts);
    for (const e of newestFirst) {
      const { state, metric, feature } = e.details;
      if (typeof metric !== 'string' || typeof feature !== 'string') continue;
      const key = `${e.model}@${e.model_version}|${metric}|${feature}`;
      // Newest first: the first event seen for a key is its current state; a run of this
      // process that already decided a status wins over the log.
      if (this.lastStatus.has(key)) continue;
      this.lastStatus.set(key, state === 'alert' ? 'alert' : 'ok');
    }
    this.restoredModels.add(model);
  }

  /** Events for results whose status crossed into `alert`, or from `alert` back to `ok`. */
  private transitions(
    versionKey: string,
    windowLabel: string,
    results: readonly MonitoringResult[],
    now: number,
  ): StoreEvent[] {
    const events: StoreEvent[] = [];
    for (const r of results) {
      const key = `${versionKey}|${r.metric}|${r.feature}`;
      const before = this.lastStatus.get(key) ?? 'ok';
      if (r.status === 'insufficient_data') continue;
      this.lastStatus.set(key, r.status);
      const fired = r.status === 'alert' && before !== 'alert';
      const resolved = r.status === 'ok' && before === 'alert';
      if (!fired && !resolved) continue;
      events.push({
        ts: now,
        type: r.metric.startsWith('drift.') ? 'monitoring.drift' : 'monitoring.quality',
        model: r.model,
        model_version: r.model_version,
        severity: fired ? 'warning' : 'info',
        details: {
          state: fired ? 'alert' : 'resolved',
          metric: r.metric,
          feature: r.feature,
          value: r.value,
          threshold: r.threshold,
          window: windowLabel,
          window_start: r.window_start,
          window_end: r.window_end,
        },
      });
    }
    return events;
  }
}
