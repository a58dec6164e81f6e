import { Inject, Injectable, Logger } from '@nestjs/common';
import { InvalidInputError } from '../common/errors';
import { ARGUS_CONFIG, ArgusConfig } from '../config';
import { ModelRegistry } from '../registry/model-registry';
import { ANALYTICS_STORE, AnalyticsStore } from '../store/analytics-store';
import { ProfileDriftOptions } from './reference-profile';
import { ReferenceProfiles } from './reference-profiles';
import {
  EvaluateOptions,
  EvaluationTarget,
  EvaluationWindow,
  WindowReport,
  checkDriftOverrides,
  evaluateWindow,
} from './window-evaluation';

/** The drift methods and thresholds configured for one model (`monitoring.thresholds` / `.drift`). */
export function driftOptionsFor(
  monitoring: Pick<ArgusConfig['monitoring'], 'thresholds' | 'drift'>,
  model: string,
): ProfileDriftOptions {
  const features = monitoring.drift[model];
  return {
    useLearnedThresholds: monitoring.thresholds === 'learned',
    ...(features && Object.keys(features).length > 0 ? { features } : {}),
  };
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Evaluation of one model version over one window, shared by the scheduler and the HTTP API.
 * Windows: a duration ending now (`5m`, `1h`, `1d`), the latest N predictions (`rows:N`), or an
 * explicit `[from, to)`.
 */
@Injectable()
export class MonitoringService {
  private readonly log = new Logger('monitoring');
  /** Override problems already logged: each is warned about once per process, not every run. */
  private readonly warned = new Set<string>();

  constructor(
    private readonly registry: ModelRegistry,
    private readonly profiles: ReferenceProfiles,
    @Inject(ANALYTICS_STORE) private readonly store: AnalyticsStore,
    @Inject(ARGUS_CONFIG) private readonly config: ArgusConfig,
  ) {}

  /** The window a configured spec (`1h`, `rows:1000`) stands for at `now`. */
  async resolveWindow(
    spec: string,
    model: string,
    version: number,
    now: number,
  ): Promise<EvaluationWindow> {
    const duration = /^(\d+)([smhd])$/.exec(spec);
    if (duration) {
      const ms = Number(duration[1]) * UNIT_MS[duration[2]];
      if (!(ms > 0)) throw new InvalidInputError(`window '${spec}' must be longer than zero`);
      return { label: spec, from: Math.max(0, now - ms), to: now };
    }
    const rows = /^rows:(\d+)$/.exec(spec);
    if (rows && Number(rows[1]) > 0) {
      const latest = await this.store.latestRowsWindow({
        model,
        version,
        rows: Number(rows[1]),
        to: now,
      });
      return { label: spec, from: latest.start ?? now, to: now };
    }
    throw new InvalidInputError(`unknown window '${spec}': use 5m, 1h, 1d or rows:<n>`);
  }

  async target(model: string, version: number): Promise<EvaluationTarget> {
    const manifest = await this.registry.getManifest(model, version);
    const profile = await this.profiles.get(model, version);
    return {
      model,
      version,
      task: manifest.task,
      classNames: profile?.class_names ?? manifest.class_names ?? null,
      profile,
      drift: driftOptionsFor(this.config.monitoring, model),
    };
  }

  async evaluate(
    model: string,
    version: number,
    window: EvaluationWindow,
    options: EvaluateOptions = {},
  ): Promise<WindowReport> {
    const target = await this.target(model, version);
    // The report carries these as notes too; the log gets each once (the scheduler runs every minute).
    for (const problem of checkDriftOverrides(target).problems) {
      if (this.warned.has(problem)) continue;
      this.warned.add(problem);
      this.log.warn(problem);
    }
    return evaluateWindow(this.store, target, window, options);
  }
}
