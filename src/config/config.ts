import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { DRIFT_METHODS, DriftMethod, isPValueMethod } from '../monitoring/stats/drift';

/**
 * One typed configuration, read once at boot from environment variables and an optional YAML file
 * (`ARGUS_CONFIG`). Environment variables win over the file. Every bad value is collected and
 * reported together, so a misconfigured deployment fails once with the whole list.
 */
export interface ArgusConfig {
  home: string;
  server: {
    port: number;
    host: string;
    /** True when the host was chosen because no admin token is configured. */
    loopbackOnly: boolean;
    bodyLimitBytes: number;
    maxRowsPerRequest: number;
    adminToken: string | undefined;
  };
  batching: {
    maxBatchSize: number;
    maxQueueDelayMicros: number;
    maxQueueRows: number;
  };
  store: {
    clickhouse: { url: string; user: string; password: string; database: string } | undefined;
    migrateOnStart: boolean;
    retentionDays: number;
  };
  predictionLog: {
    enabled: boolean;
    inputs: InputLogging;
    flushRows: number;
    flushIntervalMs: number;
    queueRows: number;
    durability: 'async' | 'sync';
  };
  /** The monitoring scheduler (docs/monitoring.md). */
  monitoring: {
    /** Seconds between evaluations of every live version; 0 turns the schedule off. */
    intervalSeconds: number;
    /** Windows evaluated each run (`5m`, `1h`, `1d`, `rows:1000`); the first one feeds the gauges and events. */
    windows: string[];
    /** A version without a reference gets a profile from its first this many logged predictions. */
    profileFromLogRows: number;
    /** accuracy / f1_macro (measured or estimated) below this is an alert. */
    qualityThreshold: number;
    /**
     * `default`: Evidently's fixed thresholds (or a configured one); `learned`: a feature's
     * threshold learned from its reference chunks (mean ± 3σ) for the method in use, when the
     * profile has one.
     */
    thresholds: 'default' | 'learned';
    /**
     * Per model, per monitored feature (named as in `monitoring_results`: the feature, `__row_mean`…,
     * `__output.prediction`, `__output.score[<class>]`, `__reconstruction_error`): method and
     * threshold overrides.
     */
    drift: Record<string, Record<string, DriftOverride>>;
  };
}

/** One feature's drift override. A threshold always comes with the method it is a threshold of. */
export interface DriftOverride {
  method?: DriftMethod;
  threshold?: number;
}

export type InputLogging = { mode: 'full' } | { mode: 'none' } | { mode: 'sample'; rate: number };

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

type Source = Record<string, string | undefined>;

interface FieldReader {
  problems: string[];
  get(env: string, yamlPath: string): string | undefined;
  /**
   * A structured value: the environment variable parsed as YAML (so JSON works), else the YAML
   * subtree at `yamlPath`. For maps keyed by names, which may contain dots and so cannot be read
   * from the flattened keys `get` sees.
   */
  tree(env: string, yamlPath: string): unknown;
}

function intField(
  r: FieldReader,
  env: string,
  yamlPath: string,
  def: number,
  min: number,
  max: number,
): number {
  const raw = r.get(env, yamlPath);
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    r.problems.push(`${env} (${yamlPath}) must be an integer in [${min}, ${max}], got '${raw}'`);
    return def;
  }
  return n;
}

function boolField(r: FieldReader, env: string, yamlPath: string, def: boolean): boolean {
  const raw = r.get(env, yamlPath);
  if (raw === undefined || raw === '') return def;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  r.problems.push(`${env} (${yamlPath}) must be true or false, got '${raw}'`);
  return def;
}

function enumField<T extends string>(
  r: FieldReader,
  env: string,
  yamlPath: string,
  values: readonly T[],
  def: T,
): T {
  const raw = r.get(env, yamlPath);
  if (raw === undefined || raw === '') return def;
  if ((values as readonly string[]).includes(raw)) return raw as T;
  r.problems.push(`${env} (${yamlPath}) must be one of ${values.join(', ')}, got '${raw}'`);
  return def;
}

function parseInputLogging(r: FieldReader): InputLogging {
  const raw = r.get('ARGUS_LOG_INPUTS', 'prediction_log.inputs');
  if (raw === undefined || raw === '' || raw === 'full') return { mode: 'full' };
  if (raw === 'none') return { mode: 'none' };
  const m = /^sample:([0-9.]+)$/.exec(raw);
  const rate = m ? Number(m[1]) : NaN;
  if (!(rate > 0 && rate <= 1)) {
    r.problems.push(
      `ARGUS_LOG_INPUTS (prediction_log.inputs) must be full, none or sample:<rate in (0,1]>, got '${raw}'`,
    );
    return { mode: 'full' };
  }
  return { mode: 'sample', rate };
}

function flattenYaml(
  value: unknown,
  prefix = '',
  out: Record<string, string> = {},
): Record<string, string> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flattenYaml(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (value !== undefined && value !== null) {
    out[prefix] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return out;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function subtree(document: unknown, path: string): unknown {
  let node = document;
  for (const key of path.split('.')) node = isMapping(node) ? node[key] : undefined;
  return node;
}

export function loadConfig(env: Source = process.env): ArgusConfig {
  const problems: string[] = [];
  let fileValues: Record<string, string> = {};
  let document: unknown;
  const file = env.ARGUS_CONFIG;
  if (file) {
    try {
      document = parseYaml(readFileSync(file, 'utf8'));
      fileValues = flattenYaml(document);
    } catch (err) {
      problems.push(`ARGUS_CONFIG: cannot read YAML file '${file}': ${(err as Error).message}`);
    }
  }
  const r: FieldReader = {
    problems,
    get: (e, y) => env[e] ?? fileValues[y],
    tree: (e, y) => {
      const raw = env[e];
      if (raw !== undefined && raw !== '') {
        try {
          return parseYaml(raw) as unknown;
        } catch (err) {
          problems.push(`${e} (${y}) is not valid YAML or JSON: ${(err as Error).message}`);
          return undefined;
        }
      }
      return subtree(document, y);
    },
  };

  const adminToken = r.get('ARGUS_ADMIN_TOKEN', 'server.admin_token') || undefined;
  if (adminToken !== undefined && adminToken.length < 16) {
    problems.push('ARGUS_ADMIN_TOKEN (server.admin_token) must be at least 16 characters');
  }
  const explicitHost = r.get('ARGUS_HOST', 'server.host');
  const host = adminToken ? (explicitHost ?? '0.0.0.0') : '127.0.0.1';

  const chUrl = r.get('CLICKHOUSE_URL', 'store.clickhouse.url');
  if (chUrl !== undefined && chUrl !== '' && !/^https?:\/\/[^/]+/.test(chUrl)) {
    problems.push(`CLICKHOUSE_URL (store.clickhouse.url) must be an http(s) URL, got '${chUrl}'`);
  }
  const database = r.get('CLICKHOUSE_DATABASE', 'store.clickhouse.database') ?? 'argus';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database)) {
    problems.push(
      `CLICKHOUSE_DATABASE (store.clickhouse.database) must be a plain identifier, got '${database}'`,
    );
  }

  const config: ArgusConfig = {
    home: resolve(r.get('ARGUS_HOME', 'home') ?? '.argus'),
    server: {
      port: intField(r, 'PORT', 'server.port', 8080, 0, 65535),
      host,
      loopbackOnly: !adminToken,
      bodyLimitBytes: intField(
        r,
        'ARGUS_BODY_LIMIT_BYTES',
        'server.body_limit_bytes',
        16 * 1024 * 1024,
        1024,
        1024 ** 3,
      ),
      maxRowsPerRequest: intField(
        r,
        'ARGUS_MAX_ROWS_PER_REQUEST',
        'server.max_rows_per_request',
        4096,
        1,
        1_000_000,
      ),
      adminToken,
    },
    batching: {
      maxBatchSize: intField(r, 'ARGUS_MAX_BATCH_SIZE', 'batching.max_batch_size', 64, 1, 65536),
      maxQueueDelayMicros: intField(
        r,
        'ARGUS_MAX_QUEUE_DELAY_US',
        'batching.max_queue_delay_us',
        0,
        0,
        10_000_000,
      ),
      maxQueueRows: intField(
        r,
        'ARGUS_MAX_QUEUE_ROWS',
        'batching.max_queue_rows',
        8192,
        1,
        10_000_000,
      ),
    },
    store: {
      clickhouse: chUrl
        ? {
            url: chUrl,
            user: r.get('CLICKHOUSE_USER', 'store.clickhouse.user') ?? 'default',
            password: r.get('CLICKHOUSE_PASSWORD', 'store.clickhouse.password') ?? '',
            database,
          }
        : undefined,
      migrateOnStart: boolField(r, 'ARGUS_MIGRATE_ON_START', 'store.migrate_on_start', true),
      retentionDays: intField(r, 'ARGUS_RETENTION_DAYS', 'store.retention_days', 0, 0, 36500),
    },
    predictionLog: {
      enabled: boolField(r, 'ARGUS_LOG_PREDICTIONS', 'prediction_log.enabled', true),
      inputs: parseInputLogging(r),
      flushRows: intField(
        r,
        'ARGUS_LOG_FLUSH_ROWS',
        'prediction_log.flush_rows',
        5000,
        1,
        1_000_000,
      ),
      flushIntervalMs: intField(
        r,
        'ARGUS_LOG_FLUSH_MS',
        'prediction_log.flush_ms',
        1000,
        10,
        600_000,
      ),
      queueRows: intField(
        r,
        'ARGUS_LOG_QUEUE_ROWS',
        'prediction_log.queue_rows',
        200_000,
        100,
        100_000_000,
      ),
      durability: enumField(
        r,
        'ARGUS_LOG_DURABILITY',
        'prediction_log.durability',
        ['async', 'sync'] as const,
        'async',
      ),
    },
    monitoring: parseMonitoringSection(r),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

const MONITORING_WINDOW = /^(\d+[smhd]|rows:\d+)$/;

function parseMonitoringSection(r: FieldReader): ArgusConfig['monitoring'] {
  const rawWindows = r.get('ARGUS_MONITORING_WINDOWS', 'monitoring.windows') ?? '1h,1d';
  const windows = rawWindows
    .replace(/[[\]"]/g, '')
    .split(',')
    .map((w) => w.trim())
    .filter((w) => w !== '');
  if (windows.length === 0 || windows.some((w) => !MONITORING_WINDOW.test(w))) {
    r.problems.push(
      `ARGUS_MONITORING_WINDOWS (monitoring.windows) must be a comma-separated list of windows such as 5m, 1h, 1d or rows:1000, got '${rawWindows}'`,
    );
  }
  const rawThreshold = r.get('ARGUS_MONITORING_QUALITY_THRESHOLD', 'monitoring.quality_threshold');
  let qualityThreshold = 0.8;
  if (rawThreshold !== undefined && rawThreshold !== '') {
    const n = Number(rawThreshold);
    if (!(n >= 0 && n <= 1)) {
      r.problems.push(
        `ARGUS_MONITORING_QUALITY_THRESHOLD (monitoring.quality_threshold) must be a number in [0, 1], got '${rawThreshold}'`,
      );
    } else qualityThreshold = n;
  }
  const thresholds = enumField(
    r,
    'ARGUS_MONITORING_THRESHOLDS',
    'monitoring.thresholds',
    ['default', 'learned'] as const,
    'default',
  );
  return {
    intervalSeconds: intField(
      r,
      'ARGUS_MONITORING_INTERVAL_S',
      'monitoring.interval_s',
      60,
      0,
      86_400,
    ),
    windows: windows.length > 0 ? windows : ['1h', '1d'],
    profileFromLogRows: intField(
      r,
      'ARGUS_MONITORING_PROFILE_ROWS',
      'monitoring.profile_rows',
      1000,
      30,
      1_000_000,
    ),
    qualityThreshold,
    thresholds,
    drift: parseDriftOverrides(r),
  };
}

const DRIFT_OVERRIDE_KEYS = ['method', 'threshold'];

/** A YAML value as the user wrote it: scalars as text (NaN included), structures as JSON. */
function shown(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
    ? String(value)
    : JSON.stringify(value);
}

/**
 * `monitoring.drift.<model>.<feature>: { method, threshold }`. Checked here: the shape, method
 * names, thresholds (finite, > 0, below 1 for the p-value methods) and that a threshold comes with
 * its method — the default method is a p-value test or a distance depending on the reference size,
 * so a bare number would mean opposite things. Whether the model and feature exist and the method
 * suits the feature's type depends on the version's profile: checked at evaluation, where an
 * unusable override is ignored with a note (docs/monitoring.md "Methods and thresholds").
 */
function parseDriftOverrides(r: FieldReader): Record<string, Record<string, DriftOverride>> {
  const where = 'ARGUS_MONITORING_DRIFT (monitoring.drift)';
  const raw = r.tree('ARGUS_MONITORING_DRIFT', 'monitoring.drift');
  if (raw === undefined || raw === null) return {};
  if (!isMapping(raw)) {
    r.problems.push(`${where} must map model names to features, got ${JSON.stringify(raw)}`);
    return {};
  }
  const out: Record<string, Record<string, DriftOverride>> = {};
  for (const [model, features] of Object.entries(raw)) {
    if (!isMapping(features)) {
      r.problems.push(`${where}: '${model}' must map feature names to overrides`);
      continue;
    }
    const perFeature: Record<string, DriftOverride> = {};
    for (const [feature, entry] of Object.entries(features)) {
      const at = `${where}: ${model}.${feature}`;
      if (!isMapping(entry)) {
        r.problems.push(`${at} must be a mapping with method and/or threshold`);
        continue;
      }
      const unknown = Object.keys(entry).filter((k) => !DRIFT_OVERRIDE_KEYS.includes(k));
      if (unknown.length > 0) {
        r.problems.push(
          `${at} has unknown key(s) ${unknown.join(', ')} (allowed: ${DRIFT_OVERRIDE_KEYS.join(', ')})`,
        );
      }
      const override: DriftOverride = {};
      let ok = unknown.length === 0;
      if (entry.method !== undefined) {
        if ((DRIFT_METHODS as readonly unknown[]).includes(entry.method)) {
          override.method = entry.method as DriftMethod;
        } else {
          r.problems.push(
            `${at}.method must be one of ${DRIFT_METHODS.join(', ')}, got '${shown(entry.method)}'`,
          );
          ok = false;
        }
      }
      if (entry.threshold !== undefined) {
        const n = typeof entry.threshold === 'number' ? entry.threshold : Number.NaN;
        const pValue = override.method !== undefined && isPValueMethod(override.method);
        if (!(Number.isFinite(n) && n > 0 && (!pValue || n < 1))) {
          r.problems.push(
            `${at}.threshold must be a number ${pValue ? 'in (0, 1) for a p-value method' : 'greater than 0'}, got '${shown(entry.threshold)}'`,
          );
          ok = false;
        } else if (entry.method === undefined) {
          r.problems.push(
            `${at}.threshold needs a method: the default method is a p-value test or a distance depending on the reference size`,
          );
          ok = false;
        } else override.threshold = n;
      }
      if (entry.method === undefined && entry.threshold === undefined && unknown.length === 0) {
        r.problems.push(`${at} must set method and/or threshold`);
        ok = false;
      }
      if (ok) perFeature[feature] = override;
    }
    out[model] = perFeature;
  }
  return out;
}
