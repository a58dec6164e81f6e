import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelRegistry } from '../../src/registry';
import { httpRequest, startTestServer, TestServer, waitChampionReady } from '../e2e/helpers';
import { CLASSIFIER_META, irisLikeClassifier, linearRegressor } from '../fixtures/models';
import { freePort } from '../harness/clickhouse-server';
import {
  ChildService,
  Dashboard,
  loadAlertRules,
  loadDashboards,
  metricNames,
  requireBinary,
  RULES_FILE,
  sleep,
  waitFor,
} from './support';

/**
 * Every PromQL query of the dashboards and every alert rule, run by a real Prometheus (Debian
 * package) that has scraped a real Argus: a running server with two fixture models and some
 * traffic (successes, invalid inputs, an unknown model). A query that Prometheus rejects, or a
 * dashboard metric that Argus does not export, fails the test.
 */

/** Reserved for the monitoring, security and lifecycle modules (docs/metrics.md): rules only. */
const RESERVED = [
  'argus_drift_score',
  'argus_drift_detected',
  'argus_drifted_features_share',
  'argus_quality_metric',
  'argus_label_coverage_ratio',
  'argus_estimated_performance',
  'argus_security_events_total',
  'argus_retrains_total',
  'argus_rollbacks_total',
  'argus_promotions_total',
];

const CLASSIFIER = 'iris-classifier.prod'; // a '.' to exercise Grafana's regex escaping
const REGRESSOR = 'regressor';
const SCRAPE_SECONDS = 1;

/** What Grafana substitutes for its built-in interval variables (1 s scrape interval). */
const GRAFANA_INTERVALS: Record<string, string> = {
  __rate_interval: '30s',
  __interval: '15s',
  __range: '5m',
  __range_s: '300',
};

type Selection = { all: true } | { all?: false; values: string[] };

/** Grafana's regex escaping of variable values for Prometheus label matchers. */
function promRegexEscape(value: string): string {
  return value.replace(/[\\^$*+?.()|{}[\]]/g, '\\\\$&');
}

function formatForPrometheus(selection: Selection, allValue: string | undefined): string {
  if (selection.all) return allValue ?? '.*';
  const escaped = selection.values.map(promRegexEscape);
  return escaped.length === 1 ? escaped[0] : `(${escaped.join('|')})`;
}

/** Expands the template and interval variables of a PromQL target the way Grafana does. */
function expandPromQL(
  expr: string,
  dashboard: Dashboard,
  selections: Record<string, Selection>,
): string {
  let out = expr;
  for (const [name, value] of Object.entries(GRAFANA_INTERVALS)) {
    out = out.split(`$${name}`).join(value).split(`\${${name}}`).join(value);
  }
  for (const variable of dashboard.variables) {
    const selection = selections[variable.name];
    if (!selection) throw new Error(`no selection for $${variable.name} of ${dashboard.title}`);
    const value = formatForPrometheus(selection, variable.allValue);
    out = out
      .replace(new RegExp(`\\$\\{${variable.name}(?::regex)?\\}`, 'g'), () => value)
      .replace(new RegExp(`\\[\\[${variable.name}\\]\\]`, 'g'), () => value)
      .replace(new RegExp(`\\$${variable.name}\\b`, 'g'), () => value);
  }
  if (/\$\w|\$\{|\[\[/.test(out)) throw new Error(`unexpanded variable left in ${out}`);
  return out;
}

interface PromResponse {
  status: string;
  error?: string;
  errorType?: string;
  data?: unknown;
}

interface VectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** The names in Argus's /metrics: declared (# TYPE) and those with at least one sample. */
function parseExposition(text: string): { declared: Set<string>; sampled: Set<string> } {
  const declared = new Set<string>();
  const sampled = new Set<string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) \S+$/.exec(line);
    if (type) declared.add(type[1]);
    else if (/^[a-zA-Z_:]/.test(line)) sampled.add(line.split(/[{ ]/)[0]);
  }
  return { declared, sampled };
}

function baseName(name: string, declared: Set<string>): string | undefined {
  if (declared.has(name)) return name;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return declared.has(base) ? base : undefined;
}

/**
 * Starts Prometheus on a free loopback port and waits until it is ready; a port taken between
 * choosing and binding it means another try on a new port.
 */
async function startPrometheus(
  binary: string,
  workDir: string,
): Promise<ChildService & { url: string }> {
  let lastLog = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child = ChildService.start(
      binary,
      [
        `--config.file=${join(workDir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(workDir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      workDir,
    );
    const url = `http://127.0.0.1:${port}`;
    const ready = await waitFor(
      'Prometheus to be ready',
      async () => {
        if (child.exit !== undefined) return false;
        const res = await httpRequest(`${url}/-/ready`, 'GET', { timeoutMs: 1000 });
        return res.status === 200 ? true : undefined;
      },
      30_000,
    );
    if (ready) return Object.assign(child, { url });
    lastLog = `prometheus exited (${String(child.exit)}):\n${child.log}`;
    if (!/address already in use/.test(child.log)) break;
  }
  throw new Error(lastLog);
}

describe('dashboards and alert rules against a real Prometheus scraping a real Argus', () => {
  let argus: TestServer;
  let prometheus: (ChildService & { url: string }) | undefined;
  let promUrl = '';
  let workDir = '';
  let exposition = { declared: new Set<string>(), sampled: new Set<string>() };
  const dashboards = loadDashboards();
  const rules = loadAlertRules();

  async function promQuery(query: string): Promise<PromResponse> {
    const res = await httpRequest(
      `${promUrl}/api/v1/query?query=${encodeURIComponent(query)}`,
      'GET',
    );
    const body = res.body as PromResponse | undefined;
    if (!body) throw new Error(`Prometheus answered ${res.status}: ${res.text}`);
    return body;
  }

  async function vector(query: string): Promise<VectorSample[]> {
    const body = await promQuery(query);
    if (body.status !== 'success') throw new Error(`${query}: ${String(body.error)}`);
    return (body.data as { result: VectorSample[] }).result;
  }

  beforeAll(async () => {
    const binary = requireBinary('prometheus');
    argus = await startTestServer();
    const registry = argus.running.app.get(ModelRegistry);
    await registry.register(CLASSIFIER, irisLikeClassifier(), CLASSIFIER_META, {
      alias: 'champion',
    });
    await registry.register(REGRESSOR, linearRegressor(), {}, { alias: 'champion' });
    await waitChampionReady(argus, CLASSIFIER);
    await waitChampionReady(argus, REGRESSOR);

    // Traffic: successes on both protocols, invalid inputs (400) and an unknown model (404).
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      const v1 = await argus.request('POST', `/v1/models/${CLASSIFIER}/predict`, {
        json: {
          instances: [
            [5.1, 3.5, 1.4, 0.2 + i / 100],
            [6.7, 3.0, 5.2, 2.3],
          ],
        },
      });
      const v2 = await argus.request('POST', `/v2/models/${REGRESSOR}/infer`, {
        json: { inputs: [{ name: 'input', shape: [1, 3], datatype: 'FP32', data: [1, 2, i] }] },
      });
      statuses.push(v1.status, v2.status);
    }
    for (let i = 0; i < 4; i++) {
      const wrongShape = await argus.request('POST', `/v1/models/${CLASSIFIER}/predict`, {
        json: { instances: [[1, 2]] },
      });
      const unknown = await argus.request('POST', '/v1/models/no-such-model/predict', {
        json: { instances: [[1, 2, 3, 4]] },
      });
      statuses.push(wrongShape.status, unknown.status);
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(40);
    expect(statuses.filter((s) => s === 400)).toHaveLength(4);
    expect(statuses.filter((s) => s === 404)).toHaveLength(4);

    const metrics = await argus.request('GET', '/metrics');
    expect(metrics.status).toBe(200);
    exposition = parseExposition(metrics.text);

    workDir = mkdtempSync(join(tmpdir(), 'argus-prometheus-'));
    const argusAddress = new URL(argus.url).host;
    writeFileSync(
      join(workDir, 'prometheus.yml'),
      [
        'global:',
        `  scrape_interval: ${SCRAPE_SECONDS}s`,
        `  evaluation_interval: ${SCRAPE_SECONDS}s`,
        'rule_files:',
        `  - ${JSON.stringify(RULES_FILE)}`,
        'scrape_configs:',
        '  - job_name: argus',
        '    static_configs:',
        `      - targets: [${JSON.stringify(argusAddress)}]`,
        '',
      ].join('\n'),
    );
    prometheus = await startPrometheus(binary, workDir);
    const running = prometheus;
    promUrl = running.url;
    await waitFor(
      'Prometheus to scrape Argus successfully',
      async () => {
        if (running.exit !== undefined)
          throw new Error(`prometheus exited (${running.exit}):\n${running.log}`);
        const res = await httpRequest(`${promUrl}/api/v1/targets`, 'GET', { timeoutMs: 2000 });
        const targets = (
          res.body as { data?: { activeTargets?: Array<{ health: string; lastError: string }> } }
        )?.data?.activeTargets;
        if (targets?.length === 1 && targets[0].health === 'up') return true;
        if (targets?.[0]?.lastError) throw new Error(targets[0].lastError);
        return undefined;
      },
      30_000,
    );
    // The traffic above is complete in what Prometheus has, and rate() windows hold several samples.
    await waitFor('the scraped request counters to include all traffic', async () => {
      const [sum] = await vector('sum(argus_requests_total{job="argus"})');
      return sum && Number(sum.value[1]) === statuses.length ? true : undefined;
    });
    await sleep(4 * SCRAPE_SECONDS * 1000);
  }, 90_000);

  afterAll(async () => {
    await prometheus?.stop();
    await argus?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('finds the three dashboards with their model and version variables', () => {
    expect(dashboards.map((d) => d.uid).sort()).toEqual([
      'argus-prediction-log',
      'argus-quality-drift',
      'argus-serving',
    ]);
    for (const d of dashboards) {
      expect({ dashboard: d.title, variables: d.variables.map((v) => v.name) }).toEqual({
        dashboard: d.title,
        variables: ['model', 'version'],
      });
      expect(d.schemaVersion).toBeGreaterThanOrEqual(36);
      expect(d.panels.length).toBeGreaterThan(0);
      for (const p of d.panels)
        expect({ panel: p.title, targets: p.targets.length > 0 }).toEqual({
          panel: p.title,
          targets: true,
        });
    }
  });

  it('exports every metric a dashboard reads, and dashboards read no reserved metric', () => {
    const missing: string[] = [];
    for (const d of dashboards) {
      for (const t of d.targets) {
        if (t.expr === undefined) continue;
        for (const name of metricNames(t.expr)) {
          if (!baseName(name, exposition.declared))
            missing.push(`${d.title} / ${t.panel} (${t.refId}): ${name}`);
        }
      }
    }
    expect(missing).toEqual([]);
    const reserved = dashboards.flatMap((d) =>
      d.targets
        .filter((t) => RESERVED.some((name) => (t.expr ?? t.rawSql ?? '').includes(name)))
        .map((t) => `${d.title} / ${t.panel}`),
    );
    expect(reserved).toEqual([]);
    // The alert rules do use the reserved names, which Argus does not export yet (all but the
    // promotion counter and the raw drift score, whose 0/1 verdict argus_drift_detected alerts).
    const ruleNames = new Set(rules.flatMap((r) => metricNames(r.expr)));
    const unalerted = new Set(['argus_promotions_total', 'argus_drift_score']);
    for (const name of RESERVED.filter((n) => !unalerted.has(n))) {
      expect({ name, inRules: ruleNames.has(name) }).toEqual({ name, inRules: true });
    }
    // The prediction-log pipeline and the process metrics are there too, not only the serving ones.
    for (const name of [
      'argus_prediction_log_records_written_total',
      'argus_prediction_log_replay_lag_seconds',
      'process_cpu_seconds_total',
    ]) {
      expect(exposition.sampled).toContain(name);
    }
  });

  it('resolves the Prometheus template variables to the loaded models and versions', async () => {
    for (const d of dashboards) {
      for (const v of d.variables.filter((x) => x.datasource.type === 'prometheus')) {
        const m = /^label_values\((?:(.+),\s*)?(\w+)\)$/.exec(v.query.trim());
        expect(m).not.toBeNull();
        const match = m?.[1]
          ? expandPromQL(m[1], d, { model: { values: [CLASSIFIER] }, version: { all: true } })
          : undefined;
        const url =
          `${promUrl}/api/v1/label/${m?.[2] ?? ''}/values` +
          (match ? `?match[]=${encodeURIComponent(match)}` : '');
        const res = await httpRequest(url, 'GET');
        const body = res.body as { status: string; data: string[] };
        expect(body.status).toBe('success');
        if (v.name === 'model')
          expect(body.data).toEqual(expect.arrayContaining([CLASSIFIER, REGRESSOR]));
        if (v.name === 'version') expect(body.data).toEqual(['1']);
      }
    }
  });

  const variants: Array<{ name: string; selections: Record<string, Selection> }> = [
    { name: 'All models', selections: { model: { all: true }, version: { all: true } } },
    {
      name: `model ${CLASSIFIER}`,
      selections: { model: { values: [CLASSIFIER] }, version: { values: ['1'] } },
    },
    {
      name: 'two models',
      selections: { model: { values: [CLASSIFIER, REGRESSOR] }, version: { all: true } },
    },
  ];

  it.each(variants)(
    'runs every PromQL target of every dashboard without error ($name)',
    async ({ selections }) => {
      const failures: string[] = [];
      const empty: string[] = [];
      let ran = 0;
      for (const d of dashboards) {
        for (const t of d.targets) {
          if (t.expr === undefined) continue;
          const query = expandPromQL(t.expr, d, selections);
          const body = await promQuery(query);
          ran++;
          if (body.status !== 'success') {
            failures.push(
              `${d.title} / ${t.panel} (${t.refId}): ${String(body.error)}\n  ${query}`,
            );
            continue;
          }
          // A query over metrics that have samples must show data, unless it selects 5xx only
          // (the traffic has none).
          const result = (body.data as { result: unknown[] }).result;
          const allSampled = metricNames(query).every(
            (n) => exposition.sampled.has(n) || n === 'up',
          );
          if (allSampled && !/status=~"5\.\."/.test(query) && result.length === 0) {
            empty.push(`${d.title} / ${t.panel} (${t.refId}): ${query}`);
          }
        }
      }
      expect(failures).toEqual([]);
      expect(empty).toEqual([]);
      expect(ran).toBeGreaterThan(40);
    },
  );

  it('shows the traffic that was sent in the main serving panels', async () => {
    const serving = dashboards.find((d) => d.uid === 'argus-serving');
    if (!serving) throw new Error('no serving dashboard');
    const one: Record<string, Selection> = {
      model: { values: [CLASSIFIER] },
      version: { all: true },
    };
    const target = (panel: string, refId = 'A') => {
      const t = serving.targets.find((x) => x.panel === panel && x.refId === refId);
      if (!t?.expr) throw new Error(`no target ${refId} in panel ${panel}`);
      return expandPromQL(t.expr, serving, one);
    };
    const info = await vector(target('Loaded model versions'));
    expect(info.map((s) => s.metric)).toEqual([
      { model: CLASSIFIER, version: '1', alias: 'champion' },
    ]);
    const errors = await vector(target('Errors per second by status'));
    expect(errors.map((s) => s.metric)).toEqual([{ model: CLASSIFIER, status: '400' }]);
    const p99 = await vector(target('Request latency p50 / p95 / p99', 'C'));
    expect(p99.map((s) => s.metric)).toEqual([{ model: CLASSIFIER }]);
    // Unknown models are counted with model="" (a label Prometheus drops): visible with All,
    // never as a model of their own.
    const all = await vector(
      expandPromQL(
        serving.targets.find((x) => x.panel === 'Errors per second by status')?.expr ?? '',
        serving,
        {
          model: { all: true },
          version: { all: true },
        },
      ),
    );
    expect(all.map((s) => s.metric).sort((a, b) => a.status.localeCompare(b.status))).toEqual([
      { model: CLASSIFIER, status: '400' },
      { status: '404' },
    ]);
  });

  it('parses and evaluates every alert rule expression, and loads the rules file cleanly', async () => {
    const failures: string[] = [];
    for (const rule of rules) {
      const body = await promQuery(rule.expr);
      if (body.status !== 'success') failures.push(`${rule.alert}: ${String(body.error)}`);
    }
    expect(failures).toEqual([]);

    // The same file loaded as rule_files: every rule evaluated without error.
    const groups = await waitFor('every rule to be evaluated', async () => {
      const res = await httpRequest(`${promUrl}/api/v1/rules`, 'GET');
      const body = res.body as {
        data: {
          groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }>;
        };
      };
      const all = body.data.groups.flatMap((g) => g.rules);
      return all.length === rules.length && all.every((r) => r.health !== 'unknown')
        ? all
        : undefined;
    });
    expect(
      groups.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${String(r.lastError)}`),
    ).toEqual([]);
    // Nothing fires for a healthy Argus with a fresh prediction log (load failures, errors...).
    const firing = await vector('ALERTS{alertstate="firing"}');
    expect(firing.map((s) => s.metric.alertname)).toEqual([]);
  });
});
