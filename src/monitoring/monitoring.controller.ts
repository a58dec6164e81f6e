import { Body, Controller, Get, Inject, Param, Put, Query, UseGuards } from '@nestjs/common';
import { InvalidInputError } from '../common/errors';
import { parseVersion } from '../registry/manifest';
import { ModelRegistry } from '../registry/model-registry';
import { AdminTokenGuard } from '../security/admin-token.guard';
import { ANALYTICS_STORE, AnalyticsStore } from '../store/analytics-store';
import { MonitoringService } from './monitoring.service';
import { ReferenceProfiles } from './reference-profiles';
import { EvaluationWindow } from './window-evaluation';

/** Latest results read for `GET …/monitoring`. */
const LATEST_RESULTS_LIMIT = 5000;
const DEFAULT_WINDOW_MS = 3_600_000;

/** A time parameter: ms since the epoch, or an ISO 8601 date/time. */
export function parseTimeParam(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  let ms: number;
  if (/^\d{1,15}$/.test(raw)) ms = Number(raw);
  else if (/^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(raw))
    ms = Date.parse(raw);
  else ms = Number.NaN;
  if (!Number.isFinite(ms) || ms < 0 || ms > 4_294_967_295_000) {
    throw new InvalidInputError(
      `'${name}' must be an ISO 8601 date-time or milliseconds since the epoch, got ${JSON.stringify(raw)}`,
    );
  }
  return ms;
}

interface WindowParams {
  from?: string;
  to?: string;
  window?: string;
  version?: string;
  baseline_from?: string;
  baseline_to?: string;
}

/**
 * Monitoring API: latest scheduled results, on-demand quality and drift over any window, and the
 * reference profile of a version.
 */
@Controller('v1/models')
export class MonitoringController {
  constructor(
    private readonly registry: ModelRegistry,
    private readonly monitoring: MonitoringService,
    private readonly profiles: ReferenceProfiles,
    @Inject(ANALYTICS_STORE) private readonly store: AnalyticsStore,
  ) {}

  /** The version asked for, else the champion, else the newest version (404 for unknown models). */
  private async version(model: string, raw: string | undefined): Promise<number> {
    const summary = await this.registry.getModel(model);
    if (raw !== undefined && raw !== '') {
      const v = parseVersion(raw);
      await this.registry.getManifest(model, v);
      return v;
    }
    return summary.aliases.champion ?? summary.versions[summary.versions.length - 1].version;
  }

  private async window(
    model: string,
    version: number,
    params: WindowParams,
  ): Promise<EvaluationWindow> {
    const from = parseTimeParam('from', params.from);
    const to = parseTimeParam('to', params.to);
    if (params.window !== undefined && params.window !== '') {
      if (from !== undefined)
        throw new InvalidInputError("give either 'window' or 'from', not both");
      return this.monitoring.resolveWindow(params.window, model, version, to ?? Date.now());
    }
    const end = to ?? Date.now();
    const start = from ?? end - DEFAULT_WINDOW_MS;
    if (start >= end) throw new InvalidInputError("'from' must be before 'to'");
    return {
      label: from === undefined && to === undefined ? '1h' : 'custom',
      from: start,
      to: end,
    };
  }

  private baseline(params: WindowParams): EvaluationWindow | undefined {
    const from = parseTimeParam('baseline_from', params.baseline_from);
    const to = parseTimeParam('baseline_to', params.baseline_to);
    if (from === undefined && to === undefined) return undefined;
    if (from === undefined || to === undefined) {
      throw new InvalidInputError("give both 'baseline_from' and 'baseline_to'");
    }
    if (from >= to) throw new InvalidInputError("'baseline_from' must be before 'baseline_to'");
    return { label: 'baseline', from, to };
  }

  @Get(':name/monitoring')
  async latest(@Param('name') name: string, @Query('version') rawVersion?: string) {
    const summary = await this.registry.getModel(name);
    const version =
      rawVersion !== undefined && rawVersion !== '' ? parseVersion(rawVersion) : undefined;
    const rows = await this.store.listMonitoringResults({
      model: name,
      version,
      limit: LATEST_RESULTS_LIMIT,
    });
    // The latest run of each version: every window it evaluated, one row per metric and feature.
    const latestRun = new Map<number, number>();
    for (const r of rows) {
      latestRun.set(r.model_version, Math.max(latestRun.get(r.model_version) ?? 0, r.ts));
    }
    const seen = new Set<string>();
    const versions = new Map<number, Map<string, Array<Record<string, unknown>>>>();
    for (const r of rows) {
      if (r.ts !== latestRun.get(r.model_version)) continue;
      const key = `${r.model_version}|${r.window_start}|${r.window_end}|${r.metric}|${r.feature}`;
      if (seen.has(key)) continue;
      seen.add(key);
      let windows = versions.get(r.model_version);
      if (!windows)
        versions.set(
          r.model_version,
          (windows = new Map<string, Array<Record<string, unknown>>>()),
        );
      const windowKey = `${r.window_start}|${r.window_end}`;
      let list = windows.get(windowKey);
      if (!list) windows.set(windowKey, (list = []));
      list.push({
        metric: r.metric,
        feature: r.feature,
        value: r.status === 'insufficient_data' ? null : r.value,
        threshold: r.threshold,
        status: r.status,
        computed_at: new Date(r.ts).toISOString(),
      });
    }
    const aliasesOf = (v: number) =>
      Object.entries(summary.aliases)
        .filter(([, version]) => version === v)
        .map(([alias]) => alias);
    return {
      model: name,
      versions: [...versions.entries()]
        .sort((a, b) => b[0] - a[0])
        .map(([v, windows]) => ({
          version: v,
          aliases: aliasesOf(v),
          windows: [...windows.entries()].map(([key, results]) => {
            const [start, end] = key.split('|').map(Number);
            const alerts = results.filter((r) => r.status === 'alert').length;
            return {
              window_start: new Date(start).toISOString(),
              window_end: new Date(end).toISOString(),
              status: alerts > 0 ? 'alert' : 'ok',
              alerts,
              results,
            };
          }),
        })),
    };
  }

  @Get(':name/quality')
  async quality(@Param('name') name: string, @Query() params: WindowParams) {
    const version = await this.version(name, params.version);
    const window = await this.window(name, version, params);
    const report = await this.monitoring.evaluate(name, version, window, {
      include: { drift: false, quality: true, estimated: true },
    });
    return {
      model: name,
      version,
      window: windowJson(window),
      rows: report.rows,
      labeled_rows: report.labeled_rows,
      label_coverage: report.label_coverage,
      quality: report.quality,
      estimated: report.estimated,
      notes: report.notes,
    };
  }

  @Get(':name/drift')
  async drift(@Param('name') name: string, @Query() params: WindowParams) {
    const version = await this.version(name, params.version);
    const window = await this.window(name, version, params);
    const baseline = this.baseline(params);
    const report = await this.monitoring.evaluate(name, version, window, {
      baseline,
      include: { drift: true, quality: false, estimated: false },
    });
    return {
      model: name,
      version,
      window: windowJson(window),
      baseline: baseline ? windowJson(baseline) : null,
      rows: report.rows,
      profile: report.profile,
      drift: report.drift,
      notes: report.notes,
    };
  }

  @Get(':name/versions/:version/reference')
  async reference(@Param('name') name: string, @Param('version') rawVersion: string) {
    const version = parseVersion(rawVersion);
    await this.registry.getManifest(name, version); // 404 for unknown models and versions
    const profile = await this.profiles.get(name, version);
    // A version without a reference yet is not an error: it gets one from its first predictions.
    return profile
      ? { available: true, ...profile }
      : {
          available: false,
          model: name,
          version,
          reason:
            'no reference yet: register the version with a reference (PUT this URL), or it is built from its first logged predictions',
        };
  }

  @Put(':name/versions/:version/reference')
  @UseGuards(AdminTokenGuard)
  async setReference(
    @Param('name') name: string,
    @Param('version') rawVersion: string,
    @Body() body: unknown,
  ) {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new InvalidInputError('body must be JSON: { "rows": [[…], …], "labels"?: […] }');
    }
    const b = body as Record<string, unknown>;
    const profile = await this.profiles.setReference(name, parseVersion(rawVersion), {
      rows: b.rows,
      labels: b.labels,
    });
    return {
      model: profile.model,
      version: profile.version,
      source: profile.source,
      rows: profile.profile.rows,
      features: profile.feature_names.length,
      cbpe_calibration: profile.cbpe_calibration,
      notes: profile.notes,
    };
  }
}

function windowJson(window: EvaluationWindow) {
  return {
    label: window.label,
    from: new Date(window.from).toISOString(),
    to: new Date(window.to).toISOString(),
  };
}
