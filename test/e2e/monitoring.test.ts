import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ARGUS_CONFIG } from '../../src/config';
import { ModelRuntime } from '../../src/inference/model-runtime';
import { MonitoringScheduler } from '../../src/monitoring/monitoring-scheduler';
import { MonitoringService } from '../../src/monitoring/monitoring.service';
import { ReferenceProfiles } from '../../src/monitoring/reference-profiles';
import { ArgusMetrics } from '../../src/telemetry/metrics';
import { ANALYTICS_STORE, AnalyticsStore } from '../../src/store';
import { CLASSIFIER_META, irisLikeClassifier, mnistSizedClassifier } from '../fixtures/models';
import { ModelRegistry } from '../../src/registry/model-registry';
import {
  ensureBuilt,
  eventually,
  metricValue,
  randomRows,
  REPO_ROOT,
  registerOk,
  runCli,
  scrapeMetrics,
  startTestServer,
  TestServer,
  waitChampionReady,
} from './helpers';

/**
 * Monitoring end to end: a real server with the embedded store, a reference set over HTTP,
 * predictions logged through the real write pipeline (feature bins computed at flush), the
 * scheduler run once, and what it published: /metrics gauges, monitoring_results, events, the API.
 */

interface V1Response {
  prediction_ids: string[];
  predictions: Array<{ label: string }>;
}

const FEATURES = CLASSIFIER_META.feature_names;

/** 784-pixel rows mixing three fixed patterns (low rank, like digits), values in [0, 2]. */
/**
 * The scheduler's windows end on the last whole minute; a run "one minute from now" covers the
 * predictions just made (their minute is then complete).
 */
function nextMinute(): number {
  return Date.now() + 60_000;
}

function imageRows(count: number, seed: number): number[][] {
  const patterns = randomRows(3, 784, 99);
  return randomRows(count, 3, seed).map((w) =>
    patterns[0].map((_, j) =>
      Math.min(
        2,
        Math.max(0, w[0] * patterns[0][j] + w[1] * patterns[1][j] + w[2] * patterns[2][j]),
      ),
    ),
  );
}

describe('monitoring (e2e)', () => {
  let server: TestServer;
  let scheduler: MonitoringScheduler;
  let store: AnalyticsStore;

  async function predict(rows: number[][]): Promise<V1Response> {
    const res = await server.request('POST', '/v1/models/iris/predict', {
      json: { instances: rows },
    });
    if (res.status !== 200) throw new Error(`predict failed: ${res.status} ${res.text}`);
    return res.body as V1Response;
  }

  async function loggedRows(expected: number): Promise<void> {
    await eventually(`${expected} logged predictions`, async () => {
      const counts = await store.countPredictions({ model: 'iris' });
      const total = counts.reduce((s, c) => s + c.count, 0);
      return total >= expected ? true : undefined;
    });
  }

  beforeAll(async () => {
    server = await startTestServer({
      ARGUS_MONITORING_INTERVAL_S: '0',
      ARGUS_MONITORING_WINDOWS: '1h,rows:500',
      ARGUS_LOG_FLUSH_MS: '20',
      // An unshifted feature judged by PSI under a configured threshold (docs/monitoring.md).
      ARGUS_MONITORING_DRIFT: JSON.stringify({
        iris: { sepal_width: { method: 'psi', threshold: 0.25 } },
      }),
    });
    scheduler = server.running.app.get(MonitoringScheduler);
    store = server.running.app.get<AnalyticsStore>(ANALYTICS_STORE);
    await registerOk(server, 'iris', irisLikeClassifier(), {
      metadata: CLASSIFIER_META,
      alias: 'champion',
    });
    await waitChampionReady(server, 'iris');
  });

  afterAll(async () => {
    await server?.close();
  });

  it('stores a reference given over HTTP and serves it', async () => {
    const rows = randomRows(400, 4, 11);
    // Ground truth for the reference: the class the feature sum points at (not the model's output).
    const truth = rows.map((r) => CLASSIFIER_META.class_names[r[0] + r[2] > 0 ? 1 : 0]);
    const put = await server.request('PUT', '/v1/models/iris/versions/1/reference', {
      json: { rows, labels: truth },
    });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ source: 'registration', rows: 400, features: 4 });
    const again = await server.request('PUT', '/v1/models/iris/versions/1/reference', {
      json: { rows },
    });
    expect(again.status).toBe(409);
    const got = await server.request('GET', '/v1/models/iris/versions/1/reference');
    expect(got.status).toBe(200);
    const profile = got.body as {
      source: string;
      feature_names: string[];
      profile: { features: Array<{ name: string; counts: number[] }> };
      cbpe: { class_count: number } | null;
    };
    expect(profile.source).toBe('registration');
    expect(profile.feature_names).toEqual(FEATURES);
    expect(profile.profile.features.map((f) => f.name)).toEqual(FEATURES);
    expect(profile.cbpe?.class_count).toBe(3);
  });

  it('refuses bad references with 4xx', async () => {
    const bad = await server.request('PUT', '/v1/models/iris/versions/1/reference', {
      json: { rows: [[1, 2]] },
    });
    expect(bad.status).toBe(409); // the version has its profile already; checked before the body
    const unknown = await server.request('PUT', '/v1/models/nope/versions/1/reference', {
      json: { rows: [[1, 2, 3, 4]] },
    });
    expect(unknown.status).toBe(404);
    const noVersion = await server.request('GET', '/v1/models/iris/versions/9/reference');
    expect(noVersion.status).toBe(404);
  });

  it('runs the scheduler once: results, gauges with real values, and a drift event', async () => {
    const steady = await predict(randomRows(300, 4, 21));
    await loggedRows(300);
    const first = await scheduler.runOnce(nextMinute());
    expect(first.errors).toEqual([]);
    expect(first.versions).toEqual(['iris@1']);
    expect(first.results).toBeGreaterThan(0);
    expect(first.events.filter((e) => e.details.metric === 'drift.share')).toEqual([]);

    // Feedback for the steady rows: quality gauges appear.
    const feedback = await server.request('POST', '/v1/feedback', {
      json: steady.prediction_ids.map((id, i) => ({
        prediction_id: id,
        label: steady.predictions[i].label,
      })),
    });
    expect(feedback.status).toBeLessThan(300);
    await eventually('feedback stored', async () => {
      const q = await server.request('GET', '/v1/models/iris/quality');
      return (q.body as { labeled_rows: number }).labeled_rows >= 300 ? true : undefined;
    });

    // A shifted population: the first and third features move by +3.
    const shifted = randomRows(600, 4, 31).map((r) => [r[0] + 3, r[1], r[2] + 3, r[3]]);
    await predict(shifted);
    await loggedRows(900);
    const second = await scheduler.runOnce(nextMinute());
    expect(second.errors).toEqual([]);
    const driftEvents = second.events.filter((e) => e.type === 'monitoring.drift');
    expect(driftEvents.map((e) => e.details.feature)).toEqual(
      expect.arrayContaining(['sepal_length', 'petal_length']),
    );
    expect(driftEvents.every((e) => e.details.state === 'alert')).toBe(true);
    const stored = await store.listEvents({ type: 'monitoring.drift', model: 'iris' });
    expect(stored.length).toBe(driftEvents.length);

    const metrics = await scrapeMetrics(server);
    const labels = { model: 'iris', version: '1', feature: 'sepal_length' };
    expect(metricValue(metrics, 'argus_drift_detected', labels)).toBe(1);
    // 400 reference rows: KS (a p-value, drift at ≤ 0.05), Evidently's choice for small references.
    expect(metricValue(metrics, 'argus_drift_score', { ...labels, method: 'ks' })).toBeLessThan(
      0.05,
    );
    expect(
      metricValue(metrics, 'argus_drifted_features_share', { model: 'iris' }),
    ).toBeGreaterThanOrEqual(0.5);
    expect(
      metricValue(metrics, 'argus_quality_metric', { model: 'iris', metric: 'accuracy' }),
    ).toBe(1);
    const coverage = metricValue(metrics, 'argus_label_coverage_ratio', { model: 'iris' });
    expect(coverage).toBeCloseTo(300 / 900, 10);
    expect(metrics).toMatch(/argus_estimated_performance\{[^}]*metric="accuracy"[^}]*\} 0\.\d+/);
    expect(metrics).not.toMatch(/^argus_(drift|quality|estimated)\S* NaN$/m);

    const results = await store.listMonitoringResults({ model: 'iris', limit: 10_000 });
    expect(results.some((r) => r.metric === 'drift.share' && r.status === 'alert')).toBe(true);
    expect(results.some((r) => r.metric === 'quality.accuracy' && r.value === 1)).toBe(true);
    expect(results.every((r) => Number.isFinite(r.value))).toBe(true);
  });

  it('restores alert state after a restart: an ongoing alert is not fired twice', async () => {
    const before = await store.listEvents({ type: 'monitoring.drift', model: 'iris' });
    expect(before.length).toBeGreaterThan(0);
    // A second scheduler over the same app is what a restarted process starts with: no memory
    // of the alerts the first one fired, only the events table.
    const restarted = new MonitoringScheduler(
      server.running.app.get(ARGUS_CONFIG),
      server.running.app.get(ModelRuntime),
      server.running.app.get(ModelRegistry),
      server.running.app.get(ReferenceProfiles),
      server.running.app.get(MonitoringService),
      store,
      new ArgusMetrics(),
    );
    const run = await restarted.runOnce(nextMinute());
    expect(run.errors).toEqual([]);
    expect(run.events.filter((e) => e.details.state === 'alert')).toEqual([]);
    const after = await store.listEvents({ type: 'monitoring.drift', model: 'iris' });
    expect(after.length).toBe(before.length);
  });

  it('serves the latest monitoring status with thresholds and verdicts', async () => {
    const res = await server.request('GET', '/v1/models/iris/monitoring');
    expect(res.status).toBe(200);
    const body = res.body as {
      versions: Array<{
        version: number;
        aliases: string[];
        windows: Array<{
          status: string;
          results: Array<{
            metric: string;
            feature: string;
            threshold: number | null;
            status: string;
          }>;
        }>;
      }>;
    };
    expect(body.versions[0]).toMatchObject({ version: 1, aliases: ['champion'] });
    expect(body.versions[0].windows.length).toBe(2);
    const results = body.versions[0].windows.flatMap((w) => w.results);
    const drift = results.find((r) => r.metric === 'drift.wasserstein' || r.metric === 'drift.ks');
    expect(drift?.threshold).not.toBeNull();
    expect(results.some((r) => r.feature === 'sepal_length' && r.status === 'alert')).toBe(true);
  });

  it('computes drift and quality on demand over a window', async () => {
    const drift = await server.request('GET', '/v1/models/iris/drift?window=1h');
    expect(drift.status).toBe(200);
    const body = drift.body as {
      rows: number;
      drift: { features: Array<{ name: string; drift: boolean }>; monitored_rows: number };
    };
    expect(body.rows).toBe(900);
    expect(body.drift.monitored_rows).toBe(900);
    expect(body.drift.features.find((f) => f.name === 'sepal_length')?.drift).toBe(true);
    expect(body.drift.features.find((f) => f.name === 'sepal_width')).toMatchObject({
      method: 'psi',
      threshold: 0.25,
      threshold_source: 'configured',
    });
    const quality = await server.request(
      'GET',
      `/v1/models/iris/quality?from=${new Date(Date.now() - 3_600_000).toISOString()}&version=1`,
    );
    expect(quality.status).toBe(200);
    expect(quality.body).toMatchObject({ version: 1, labeled_rows: 300, quality: { accuracy: 1 } });
  });

  it('profiles a wide model from its training reference sample when it goes live', async () => {
    const registry = server.running.app.get(ModelRegistry);
    const sample = imageRows(240, 3);
    await registry.register(
      'digits',
      mnistSizedClassifier(),
      { task: 'classification' },
      { alias: 'champion', artifacts: { 'reference-sample.json': JSON.stringify(sample) } },
    );
    await waitChampionReady(server, 'digits');
    const got = await server.request('GET', '/v1/models/digits/versions/1/reference');
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({
      available: true,
      source: 'reference_sample',
      cbpe_calibration: 'uncalibrated_no_labels',
      profile: { wide: true, columns: 784, features: [] },
    });
    const body = got.body as { profile: { summary_features: unknown[] }; notes: string[] };
    expect(body.profile.summary_features).toHaveLength(4);
    expect(body.notes.join(' ')).toMatch(/uncalibrated/);
    const res = await server.request('POST', '/v1/models/digits/predict', {
      json: { instances: imageRows(60, 4) },
    });
    expect(res.status).toBe(200);
    await eventually('digits predictions logged', async () => {
      const counts = await store.countPredictions({ model: 'digits' });
      return counts.reduce((s, c) => s + c.count, 0) >= 60 ? true : undefined;
    });
    const drift = await server.request('GET', '/v1/models/digits/drift');
    expect(drift.status).toBe(200);
    const report = drift.body as {
      drift: {
        monitored_rows: number;
        features: Array<{ name: string; status: string }>;
        multivariate: { band: { rows: number } } | null;
      };
    };
    expect(report.drift.monitored_rows).toBe(60);
    expect(report.drift.features.map((f) => f.name)).toEqual([
      '__row_mean',
      '__row_std',
      '__row_zero_fraction',
      '__row_max',
    ]);
    expect(report.drift.multivariate?.band.rows).toBe(60);
  });

  it('answers bad parameters with 4xx and a JSON error', async () => {
    const cases: Array<[string, number]> = [
      ['/v1/models/unknown/monitoring', 404],
      ['/v1/models/unknown/drift', 404],
      ['/v1/models/unknown/quality', 404],
      ['/v1/models/iris/drift?from=yesterday', 400],
      ['/v1/models/iris/quality?to=2024-13-45T99:00:00Z', 400],
      ['/v1/models/iris/drift?from=2024-01-02T00:00:00Z&to=2024-01-01T00:00:00Z', 400],
      ['/v1/models/iris/quality?from=1000&to=1000', 400],
      ['/v1/models/iris/drift?version=abc', 400],
      ['/v1/models/iris/drift?version=7', 404],
      ['/v1/models/iris/drift?window=3 weeks', 400],
      ['/v1/models/iris/drift?baseline_from=1000', 400],
    ];
    for (const [path, status] of cases) {
      const res = await server.request('GET', path);
      expect([path, res.status]).toEqual([path, status]);
      expect(typeof (res.body as { error?: unknown }).error).toBe('string');
    }
  });
});

describe('monitoring CLI', () => {
  const fixtures = join(REPO_ROOT, 'test', 'fixtures', 'stats');
  let home: string;

  beforeAll(() => {
    ensureBuilt();
    home = mkdtempSync(join(tmpdir(), 'argus-monitoring-cli-'));
  });

  afterAll(() => {
    rmSync(home, { recursive: true, force: true });
  });

  it('prints the drift report of two CSV files as the stable JSON contract', async () => {
    const res = await runCli([
      'drift',
      '--reference',
      join(fixtures, 'offline-reference.csv'),
      '--current',
      join(fixtures, 'offline-current.csv'),
      '--json',
    ]);
    expect(res.code).toBe(0);
    const report = JSON.parse(res.stdout) as {
      features: Array<Record<string, unknown> & { name: string; stats: Record<string, number> }>;
      drift_share: number;
      dataset_drift: boolean;
    };
    expect(Object.keys(report).sort()).toEqual(['dataset_drift', 'drift_share', 'features']);
    const expected = JSON.parse(readFileSync(join(fixtures, 'offline-drift.json'), 'utf8')) as {
      features: Record<string, Record<string, number | string>>;
    };
    for (const f of report.features) {
      expect(Object.keys(f).sort()).toEqual(
        ['drift', 'method', 'name', 'score', 'stats', 'threshold', 'type'].sort(),
      );
      const scipy = expected.features[f.name];
      if (!scipy) continue;
      expect(f.type).toBe(scipy.type);
      for (const key of ['ks_statistic', 'wasserstein_normed', 'ks_p_value']) {
        if (typeof scipy[key] === 'number' && typeof f.stats[key] === 'number') {
          expect(Math.abs(f.stats[key] - scipy[key])).toBeLessThan(1e-6);
        }
      }
    }
    expect(report.features.find((f) => f.name === 'age')?.drift).toBe(true);
  });

  it('prints a table, exits 0 with drift and 2 for a missing file', async () => {
    const table = await runCli([
      'drift',
      '--reference',
      join(fixtures, 'offline-reference.csv'),
      '--current',
      join(fixtures, 'offline-current.csv'),
    ]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^feature\s+type\s+method/);
    expect(table.stdout).toMatch(/Drifted features: \d+ of \d+/);
    const missing = await runCli([
      'drift',
      '--reference',
      join(fixtures, 'does-not-exist.csv'),
      '--current',
      join(fixtures, 'offline-current.csv'),
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/does-not-exist\.csv: no such file/);
  });

  it('registers a model with a reference CSV and stores its profile', async () => {
    const modelFile = join(home, 'iris.onnx');
    writeFileSync(modelFile, irisLikeClassifier());
    const metaFile = join(home, 'meta.json');
    writeFileSync(metaFile, JSON.stringify(CLASSIFIER_META));
    const csv = join(home, 'reference.csv');
    const rows = randomRows(120, 4, 5);
    writeFileSync(
      csv,
      [
        [...FEATURES].reverse().join(',') + ',label',
        ...rows.map(
          (r) => [...r].reverse().join(',') + ',' + CLASSIFIER_META.class_names[r[0] > 0 ? 1 : 0],
        ),
      ].join('\n') + '\n',
    );
    const res = await runCli(
      [
        'models',
        'register',
        '--name',
        'iris',
        '--file',
        modelFile,
        '--metadata',
        metaFile,
        '--reference',
        csv,
      ],
      { ARGUS_HOME: home },
    );
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toEqual({
      name: 'iris',
      version: 1,
      reference: { rows: 120, cbpe_calibration: 'fitted_on_labeled_reference' },
    });
    const stored = JSON.parse(
      readFileSync(join(home, 'models', 'iris', '1', 'reference-profile.json'), 'utf8'),
    ) as { source: string; profile: { features: Array<{ name: string; min: number }> } };
    expect(stored.source).toBe('registration');
    // Columns were matched by name, not position: the CSV had them reversed.
    expect(stored.profile.features[0]).toMatchObject({
      name: 'sepal_length',
      min: Math.min(...rows.map((r) => r[0])),
    });
    const bad = join(home, 'bad.csv');
    writeFileSync(bad, 'a,b\n1,x\n');
    const refused = await runCli(
      ['models', 'register', '--name', 'iris', '--file', modelFile, '--reference', bad],
      { ARGUS_HOME: home },
    );
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/not a number/);
  });
});
