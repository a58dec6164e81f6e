import { ClickHouseClient, ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { randomUUID } from 'node:crypto';
import { FeedbackRecord } from '../../src/predictions/prediction-record';
import { MonitoringResult, StoredPrediction } from '../../src/store';
import { ClickHouseStore } from '../../src/store/clickhouse-store';
import { freshClickHouseDatabase, TestDatabase } from '../harness/clickhouse';
import { CLICKHOUSE_UID, Dashboard, loadDashboards, TemplateVariable } from './support';

/**
 * Every ClickHouse SQL target and variable query of the dashboards, with the Grafana macros
 * expanded the way production expands them (the plugin's `$__conditionalAll`, Grafana's template
 * variables with the `singlequote` format, the plugin backend's `$__timeFilter`, `$__fromTime`,
 * `$__toTime`, `$__interval_s`, `$__timeInterval`), run against the real ClickHouse of the test
 * harness (18.16 on these machines) with the real migrations and rows written through the store.
 */

const CLASSES = ['setosa', 'versicolor', 'virginica'];
const IRIS = 'iris';
const FRAUD = 'fraud-detector.eu';
const REGRESSOR = 'regressor';
const INTERVAL_S = 60;

const NOW_MS = Date.now();
const MINUTE = 60_000;
/** Predictions start 50 minutes ago; the dashboards' range is the last 2 hours. */
const START_MS = Math.floor(NOW_MS / MINUTE) * MINUTE - 50 * MINUTE;
const RANGE = {
  from: Math.floor((NOW_MS - 2 * 3600_000) / 1000),
  to: Math.floor(NOW_MS / 1000) + 60,
};

type Selection = { all: true } | { all?: false; values: string[] };

function predictionRow(overrides: Partial<StoredPrediction>): StoredPrediction {
  return {
    id: randomUUID(),
    request_id: randomUUID(),
    ts: START_MS,
    model: IRIS,
    model_version: 1,
    route: 'champion',
    client_id: 'tests',
    trace_id: '0af7651916cd43dd8448eb211c80319c',
    span_id: 'b7ad6b7169203331',
    inputs: [5.1, 3.5, 1.4, 0.2],
    scores: [0.8, 0.15, 0.05],
    label: 'setosa',
    value: null,
    latency_us: 850,
    batch_size: 4,
    status: 200,
    error: '',
    protocol: 'v2',
    ...overrides,
  };
}

/** The rows the test writes, and what the main panels must compute from them. */
interface Fixture {
  predictions: StoredPrediction[];
  feedback: FeedbackRecord[];
  monitoring: MonitoringResult[];
  /** iris v1: latest ground truth per labelled successful prediction. */
  irisV1Truth: Map<string, string>;
  irisV1Successful: StoredPrediction[];
}

function buildFixture(): Fixture {
  const predictions: StoredPrediction[] = [];
  const feedback: FeedbackRecord[] = [];
  const irisV1Truth = new Map<string, string>();
  // iris v1: 3 a minute for 40 minutes; every 10th request failed (400, no label).
  for (let i = 0; i < 120; i++) {
    const failed = i % 10 === 9;
    predictions.push(
      predictionRow({
        ts: START_MS + Math.floor(i / 3) * MINUTE + (i % 3) * 1000,
        label: failed ? '' : CLASSES[i % 3],
        scores: failed ? [] : [0.6, 0.3, 0.1],
        status: failed ? 400 : 200,
        error: failed ? 'instances[0] has 2 values; the model expects 4' : '',
      }),
    );
  }
  const irisV1Successful = predictions.filter((p) => p.status === 200);
  // Ground truth for every other successful prediction: right 3 times out of 4. Every 5th labelled
  // one first got a wrong label, corrected later (the latest label wins).
  irisV1Successful.forEach((p, i) => {
    if (i % 2 !== 0) return;
    const truth = i % 8 === 6 ? CLASSES[(CLASSES.indexOf(p.label) + 1) % 3] : p.label;
    irisV1Truth.set(p.id, truth);
    const later = p.ts + 5 * MINUTE;
    feedback.push({
      prediction_id: p.id,
      ts: later,
      label: truth,
      value: null,
      source: 'labelling',
    });
    if (i % 5 === 0) {
      const wrong = CLASSES[(CLASSES.indexOf(truth) + 1) % 3];
      feedback.push({
        prediction_id: p.id,
        ts: later - MINUTE,
        label: wrong,
        value: null,
        source: 'labelling',
      });
    }
  });
  // iris v2 (a challenger): no ground truth yet.
  for (let i = 0; i < 30; i++) {
    predictions.push(
      predictionRow({
        model_version: 2,
        route: 'challenger',
        ts: START_MS + i * MINUTE,
        label: CLASSES[(i + 1) % 3],
      }),
    );
  }
  // A second classifier whose name needs escaping in a regex, fully labelled.
  for (let i = 0; i < 20; i++) {
    const p = predictionRow({
      model: FRAUD,
      ts: START_MS + i * MINUTE,
      label: i % 4 === 0 ? 'fraud' : 'ok',
      scores: [0.3, 0.7],
    });
    predictions.push(p);
    feedback.push({
      prediction_id: p.id,
      ts: p.ts + MINUTE,
      label: 'ok',
      value: null,
      source: 'chargebacks',
    });
  }
  // A regressor: values, no labels.
  for (let i = 0; i < 10; i++) {
    predictions.push(
      predictionRow({
        model: REGRESSOR,
        ts: START_MS + i * MINUTE,
        label: '',
        value: i * 1.5,
        scores: [i * 1.5],
      }),
    );
  }

  const monitoring: MonitoringResult[] = [];
  const hour = 3600_000;
  for (let w = 0; w < 2; w++) {
    const windowEnd = Math.floor(NOW_MS / 1000) * 1000 - w * hour;
    const base = {
      model: IRIS,
      model_version: 1,
      window_start: windowEnd - hour,
      window_end: windowEnd,
      ts: NOW_MS,
    };
    monitoring.push(
      {
        ...base,
        metric: 'drift.psi',
        feature: 'petal_width',
        value: 0.31 - w * 0.2,
        threshold: 0.1,
        status: w === 0 ? 'alert' : 'ok',
      },
      {
        ...base,
        metric: 'drift.psi',
        feature: 'sepal_length',
        value: 0.02,
        threshold: 0.1,
        status: 'ok',
      },
      {
        ...base,
        metric: 'drift.wasserstein',
        feature: 'petal_width',
        value: 0.4,
        threshold: 0.1,
        status: 'alert',
      },
      { ...base, metric: 'drift.share', feature: '', value: 0.5, threshold: 0.5, status: 'alert' },
      {
        ...base,
        metric: 'quality.accuracy',
        feature: '',
        value: 0.75,
        threshold: null,
        status: 'ok',
      },
      {
        ...base,
        metric: 'estimated.accuracy',
        feature: '',
        value: 0.78,
        threshold: 0.7,
        status: 'ok',
      },
      {
        ...base,
        metric: 'coverage.labels',
        feature: '',
        value: 0.45,
        threshold: null,
        status: 'ok',
      },
    );
  }
  return { predictions, feedback, monitoring, irisV1Truth, irisV1Successful };
}

// --- Grafana expansion ------------------------------------------------------------------------

/** The plugin's `$__conditionalAll(condition, $var)`: `1=1` when the variable is All. */
function applyConditionalAll(sql: string, selections: Record<string, Selection>): string {
  const macro = '$__conditionalAll(';
  let out = sql;
  let at = out.lastIndexOf(macro);
  while (at !== -1) {
    const open = at + macro.length - 1;
    let depth = 0;
    let end = -1;
    const args: string[] = [];
    let argStart = open + 1;
    for (let i = open; i < out.length; i++) {
      const c = out[i];
      if (c === '(') depth++;
      else if (c === ')') {
        depth--;
        if (depth === 0) {
          args.push(out.slice(argStart, i));
          end = i;
          break;
        }
      } else if (c === ',' && depth === 1) {
        args.push(out.slice(argStart, i));
        argStart = i + 1;
      }
    }
    if (end === -1 || args.length !== 2) throw new Error(`malformed $__conditionalAll in ${sql}`);
    const variable = args[1].trim();
    if (!/^\$\w+$/.test(variable))
      throw new Error(`$__conditionalAll needs a plain $variable, got ${variable}`);
    const selection = selections[variable.slice(1)];
    if (!selection) throw new Error(`no selection for ${variable}`);
    const phrase = selection.all ? '1=1' : args[0];
    out = out.slice(0, at) + phrase + out.slice(end + 1);
    at = out.lastIndexOf(macro);
  }
  return out;
}

/** Grafana's `singlequote` format: each value in single quotes, quotes escaped, comma-joined. */
function singlequote(values: string[]): string {
  return values.map((v) => `'${v.replace(/'/g, "\\'")}'`).join(',');
}

function expandVariables(
  sql: string,
  variables: TemplateVariable[],
  selections: Record<string, Selection>,
  options: Map<string, string[]>,
): string {
  let out = sql;
  for (const variable of variables) {
    const selection = selections[variable.name];
    if (!selection) throw new Error(`no selection for $${variable.name}`);
    const values = selection.all ? (options.get(variable.name) ?? []) : selection.values;
    out = out.replace(new RegExp(`\\$\\{${variable.name}:singlequote\\}`, 'g'), () =>
      singlequote(values),
    );
    if (
      new RegExp(
        `\\$\\{${variable.name}(:\\w+)?\\}|\\$${variable.name}\\b|\\[\\[${variable.name}`,
      ).test(out)
    ) {
      throw new Error(
        `$${variable.name} is used without the singlequote format outside $__conditionalAll: ${sql}`,
      );
    }
  }
  return out;
}

/** The plugin backend's macros (pkg/macros), for the range [RANGE.from, RANGE.to] in seconds. */
function expandMacros(sql: string): string {
  const dt = (s: number) => `toDateTime(${s})`;
  const out = sql
    .replace(
      /\$__timeFilter\(([^)]+)\)/g,
      (_m, col: string) =>
        `${col.trim()} >= ${dt(RANGE.from)} AND ${col.trim()} <= ${dt(RANGE.to)}`,
    )
    .replace(
      /\$__timeInterval\(([^)]+)\)/g,
      (_m, col: string) =>
        `toStartOfInterval(toDateTime(${col.trim()}), INTERVAL ${INTERVAL_S} second)`,
    )
    .replace(/\$__fromTime\b/g, dt(RANGE.from))
    .replace(/\$__toTime\b/g, dt(RANGE.to))
    .replace(/\$__interval_s\b/g, String(INTERVAL_S));
  const left = /\$[\w{]+/.exec(out);
  if (left) throw new Error(`unexpanded ${left[0]} in ${out}`);
  return out;
}

function expandSql(
  sql: string,
  dashboard: Dashboard,
  selections: Record<string, Selection>,
  options: Map<string, string[]>,
): string {
  return expandMacros(
    expandVariables(applyConditionalAll(sql, selections), dashboard.variables, selections, options),
  );
}

// --- the test ---------------------------------------------------------------------------------

describe('ClickHouse panels of the dashboards against the real schema and logged data', () => {
  let db: TestDatabase;
  let store: ClickHouseStore;
  let client: ClickHouseClient;
  const fixture = buildFixture();
  const dashboards = loadDashboards().filter(
    (d) =>
      d.targets.some((t) => t.datasource.uid === CLICKHOUSE_UID) ||
      d.variables.some((v) => v.datasource.uid === CLICKHOUSE_UID),
  );
  /** Variable options as the variable queries return them (All expands to these). */
  const options = new Map<string, Map<string, string[]>>();

  async function rows(sql: string): Promise<Array<Record<string, unknown>>> {
    const result = await client.query({ query: sql, format: 'JSON' });
    return (await result.json<Record<string, unknown>>()).data;
  }

  beforeAll(async () => {
    db = await freshClickHouseDatabase('dashboards');
    store = new ClickHouseStore({
      url: db.url,
      user: db.user,
      password: db.password,
      database: db.database,
    });
    await store.migrate();
    const irisV1 = fixture.predictions.filter((p) => p.model === IRIS && p.model_version === 1);
    await store.insertPredictions(fixture.predictions);
    // A retried batch (lost acknowledgement): duplicates must not inflate any panel.
    await store.insertPredictions(irisV1.slice(0, 60));
    // Feedback in two batches, the later labels first: the latest by ts wins, not the last insert.
    const corrections = fixture.feedback.filter(
      (f) => fixture.irisV1Truth.get(f.prediction_id) !== f.label || f.source !== 'labelling',
    );
    const truths = fixture.feedback.filter((f) => !corrections.includes(f));
    await store.insertFeedback(truths);
    await store.insertFeedback(corrections);
    await store.insertMonitoringResults(fixture.monitoring);
    client = createClient({
      url: db.url,
      username: db.user,
      password: db.password,
      database: db.database,
      log: { level: ClickHouseLogLevel.OFF },
    });
  });

  afterAll(async () => {
    await client?.close();
    await store?.close();
    await db?.drop();
  });

  it('has ClickHouse panels in the quality / drift and prediction-log dashboards, all with rawSql', () => {
    expect(dashboards.map((d) => d.uid).sort()).toEqual([
      'argus-prediction-log',
      'argus-quality-drift',
    ]);
    for (const d of dashboards) {
      for (const t of d.targets.filter((x) => x.datasource.uid === CLICKHOUSE_UID)) {
        expect({ panel: t.panel, sql: typeof t.rawSql }).toEqual({ panel: t.panel, sql: 'string' });
        // Both ClickHouse 18.16 and current releases: no toStartOfInterval, no window functions,
        // no WITH <subquery>, no DateTime64.
        expect({ panel: t.panel, sql: t.rawSql }).not.toEqual({
          panel: t.panel,
          sql: expect.stringMatching(
            /\$__timeInterval|toStartOfInterval|\bOVER\s*\(|DateTime64|\$__timeFilter_ms/,
          ) as unknown,
        });
      }
    }
  });

  it('runs the ClickHouse variable queries and lists the logged models and versions', async () => {
    const quality = dashboards.find((d) => d.uid === 'argus-quality-drift');
    if (!quality) throw new Error('no quality dashboard');
    for (const d of dashboards) {
      const found = new Map<string, string[]>();
      for (const v of d.variables) {
        if (v.datasource.uid !== CLICKHOUSE_UID) {
          // Prometheus variables (label_values) list the same models Argus serves.
          found.set(v.name, v.name === 'model' ? [IRIS, FRAUD, REGRESSOR] : ['1', '2']);
          continue;
        }
        const sql = expandSql(v.query, d, { model: { all: true }, version: { all: true } }, found);
        const result = await rows(sql);
        found.set(
          v.name,
          result.map((r) => String(Object.values(r)[0])),
        );
      }
      options.set(d.uid, found);
    }
    expect(options.get('argus-quality-drift')?.get('model')).toEqual([FRAUD, IRIS, REGRESSOR]);
    expect(options.get('argus-quality-drift')?.get('version')).toEqual(['2', '1']);
    // The version variable follows the model selection.
    const versionVar = quality.variables.find((v) => v.name === 'version');
    const onlyFraud = await rows(
      expandSql(
        versionVar?.query ?? '',
        quality,
        { model: { values: [FRAUD] }, version: { all: true } },
        new Map(),
      ),
    );
    expect(onlyFraud.map((r) => r.version)).toEqual(['1']);
  });

  const variants: Array<{
    name: string;
    selections: Record<string, Selection>;
    expectRows: boolean;
  }> = [
    { name: 'All', selections: { model: { all: true }, version: { all: true } }, expectRows: true },
    {
      name: `model ${IRIS} version 1`,
      selections: { model: { values: [IRIS] }, version: { values: ['1'] } },
      expectRows: true,
    },
    {
      name: 'two models, two versions',
      selections: { model: { values: [IRIS, FRAUD] }, version: { values: ['1', '2'] } },
      expectRows: true,
    },
    // A value with a quote reaches the SQL escaped: no error, nothing matches.
    {
      name: 'a hostile model name',
      selections: {
        model: { values: ["it's'; DROP TABLE predictions; --"] },
        version: { values: ['1'] },
      },
      expectRows: false,
    },
  ];

  it.each(variants)(
    'runs every ClickHouse target without error ($name)',
    async ({ selections, expectRows }) => {
      const failures: string[] = [];
      const empty: string[] = [];
      let ran = 0;
      for (const d of dashboards) {
        const opts = options.get(d.uid) ?? new Map<string, string[]>();
        for (const t of d.targets) {
          if (t.datasource.uid !== CLICKHOUSE_UID || t.rawSql === undefined) continue;
          const sql = expandSql(t.rawSql, d, selections, opts);
          ran++;
          try {
            const result = await rows(sql);
            if (expectRows && result.length === 0)
              empty.push(`${d.title} / ${t.panel} (${t.refId})`);
          } catch (err) {
            failures.push(
              `${d.title} / ${t.panel} (${t.refId}): ${(err as Error).message.split('\n')[0]}\n  ${sql}`,
            );
          }
        }
      }
      expect(failures).toEqual([]);
      expect(empty).toEqual([]);
      expect(ran).toBeGreaterThanOrEqual(15);
      // The tables are all still there after the hostile value.
      const [count] = await rows('SELECT count() AS n FROM predictions');
      expect(Number(count.n)).toBeGreaterThan(0);
    },
  );

  describe('the main quality panels compute the right numbers', () => {
    const irisV1 = { model: { values: [IRIS] }, version: { values: ['1'] } };

    async function panelRows(
      title: string,
      selections: Record<string, Selection> = irisV1,
    ): Promise<Array<Record<string, unknown>>> {
      const d = dashboards.find((x) => x.uid === 'argus-quality-drift');
      const t = d?.targets.find((x) => x.panel === title);
      if (!d || !t?.rawSql) throw new Error(`no panel ${title}`);
      return rows(
        expandSql(t.rawSql, d, selections, options.get(d.uid) ?? new Map<string, string[]>()),
      );
    }

    it('counts each prediction once despite the duplicated batch', async () => {
      const [all] = await panelRows('Predictions', {
        model: { all: true },
        version: { all: true },
      });
      expect(Number(all.predictions)).toBe(fixture.predictions.length);
      const [one] = await panelRows('Predictions');
      expect(Number(one.predictions)).toBe(120);
      const series = await panelRows('Predictions over time');
      expect(series.reduce((sum, r) => sum + Number(r.predictions), 0)).toBe(120);
      const [failed] = await panelRows('Failed requests share');
      expect(Number(failed.failed_share)).toBeCloseTo(12 / 120, 10);
    });

    it('shows the class distribution of successful predictions', async () => {
      const classes = await panelRows('Predicted classes');
      const expected = CLASSES.map((label) => ({
        label,
        predictions: fixture.irisV1Successful.filter((p) => p.label === label).length,
      }));
      expect(classes.map((r) => ({ label: r.label, predictions: Number(r.predictions) }))).toEqual(
        expected,
      );
      const overTime = await panelRows('Predicted class distribution');
      expect(overTime.reduce((sum, r) => sum + Number(r.predictions), 0)).toBe(
        fixture.irisV1Successful.length,
      );
    });

    it('measures label coverage and accuracy with the latest label of each prediction', async () => {
      const labelled = [...fixture.irisV1Truth.entries()];
      const byId = new Map(fixture.irisV1Successful.map((p) => [p.id, p.label]));
      const correct = labelled.filter(([id, truth]) => byId.get(id) === truth).length;

      const [coverage] = await panelRows('Label coverage');
      expect(Number(coverage.label_coverage)).toBeCloseTo(
        labelled.length / fixture.irisV1Successful.length,
        10,
      );
      const [accuracy] = await panelRows('Accuracy (labelled predictions)');
      expect(Number(accuracy.labelled)).toBe(labelled.length);
      expect(Number(accuracy.accuracy)).toBeCloseTo(correct / labelled.length, 10);
      expect(correct).toBeLessThan(labelled.length); // the fixture has mistakes to find

      const matrix = await panelRows('Confusion matrix');
      expect(matrix.reduce((sum, r) => sum + Number(r.predictions), 0)).toBe(labelled.length);
      const diagonal = matrix
        .filter((r) => r.predicted === r.actual)
        .reduce((sum, r) => sum + Number(r.predictions), 0);
      expect(diagonal).toBe(correct);

      const perClass = await panelRows('Recall and precision by class');
      expect(perClass.map((r) => r.class)).toEqual(CLASSES);
      for (const r of perClass) {
        const ofClass = labelled.filter(([, truth]) => truth === r.class);
        const hits = ofClass.filter(([id, truth]) => byId.get(id) === truth).length;
        expect(Number(r.support)).toBe(ofClass.length);
        expect(Number(r.recall)).toBeCloseTo(hits / ofClass.length, 10);
      }
    });

    it('reads drift and estimated performance from monitoring_results', async () => {
      const latest = await panelRows('Latest drift status by feature');
      expect(latest.map((r) => [r.feature, r.method, r.latest_status])).toEqual([
        ['petal_width', 'psi', 'alert'],
        ['petal_width', 'wasserstein', 'alert'],
        ['sepal_length', 'psi', 'ok'],
      ]);
      expect(Number(latest[0].latest_value)).toBeCloseTo(0.31, 10);
      const estimated = await panelRows('Estimated vs measured performance');
      expect(new Set(estimated.map((r) => r.metric))).toEqual(
        new Set(['estimated.accuracy', 'quality.accuracy']),
      );
      const alerts = await panelRows('Monitoring results in alert');
      expect(alerts).toHaveLength(fixture.monitoring.filter((m) => m.status === 'alert').length);
      // Another model has no monitoring results: its drift panels are empty, not wrong.
      expect(
        await panelRows('Drift score by feature', {
          model: { values: [FRAUD] },
          version: { all: true },
        }),
      ).toEqual([]);
    });
  });
});
