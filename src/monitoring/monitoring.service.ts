import { Inject, Injectable } from '@nestjs/common';
import { InvalidInputError } from '../common/errors';
import { ModelRegistry } from '../registry/model-registry';
import { ANALYTICS_STORE, AnalyticsStore } from '../store/analytics-store';
import { ReferenceProfiles } from './reference-profiles';
import {
  EvaluateOptions,
  EvaluationTarget,
  EvaluationWindow,
  WindowReport,
  evaluateWindow,
} from './window-evaluation';

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Evaluation of one model version over one window, shared by the scheduler and the HTTP API.
 * Windows: a duration ending now (`5m`, `1h`, `1d`), the latest N predictions (`rows:N`), or an
 * explicit `[from, to)`.
 */
@Injectable()
export class MonitoringService {
  constructor(
    private readonly registry: ModelRegistry,
    private readonly profiles: ReferenceProfiles,
    @Inject(ANALYTICS_STORE) private readonly store: AnalyticsStore,
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
    };
  }

  async evaluate(
    model: string,
    version: number,
    window: EvaluationWindow,
    options: EvaluateOptions = {},
  ): Promise<WindowReport> {
    return evaluateWindow(this.store, await this.target(model, version), window, options);
  }
}
