import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import {
  ALERTMANAGER_CONFIG,
  asArray,
  asRecord,
  asString,
  loadAlertRules,
  metricNames,
  PROMETHEUS_CONFIG,
  readYaml,
  REPO,
  requireBinary,
  RULES_FILE,
  RULES_TEST_FILE,
  run,
} from './support';

/**
 * The alerting configuration as Prometheus and Alertmanager themselves see it: promtool checks and
 * unit-tests the rules and checks prometheus.yml, amtool checks alertmanager.yml. Then the files
 * are cross-checked: every alert has firing and non-firing unit tests, a severity, a `for`, a
 * summary and description naming the model, and a runbook section that exists.
 */

const RUNBOOKS = join(REPO, 'docs', 'runbooks.md');
const METRICS_DOC = join(REPO, 'docs', 'metrics.md');
const SEVERITIES = new Set(['critical', 'warning', 'info']);

interface AlertCase {
  alertname: string;
  evalTime: string;
  firing: Array<Record<string, string>>;
}

function loadAlertCases(): AlertCase[] {
  const root = asRecord(readYaml(RULES_TEST_FILE), RULES_TEST_FILE);
  const cases: AlertCase[] = [];
  for (const [ti, t] of asArray(root.tests, 'tests').entries()) {
    const test = asRecord(t, `tests[${ti}]`);
    for (const [ai, a] of asArray(
      test.alert_rule_test ?? [],
      `tests[${ti}].alert_rule_test`,
    ).entries()) {
      const where = `tests[${ti}].alert_rule_test[${ai}]`;
      const item = asRecord(a, where);
      const firing = asArray(item.exp_alerts ?? [], `${where}.exp_alerts`).map((e, ei) => {
        const labels = asRecord(
          asRecord(e, `${where}.exp_alerts[${ei}]`).exp_labels ?? {},
          'exp_labels',
        );
        return Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, String(v)]));
      });
      cases.push({
        alertname: asString(item.alertname, `${where}.alertname`),
        evalTime: String(item.eval_time),
        firing,
      });
    }
  }
  return cases;
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  for (const m of markdown.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    out.add(
      m[1]
        .trim()
        .toLowerCase()
        .replace(/[^\w\- ]/g, '')
        .replace(/ /g, '-'),
    );
  }
  return out;
}

describe('alerting configuration (promtool, amtool)', () => {
  const rules = loadAlertRules();

  it('promtool check rules accepts the rules file and counts every alert', async () => {
    const promtool = requireBinary('promtool');
    const res = await run(promtool, ['check', 'rules', RULES_FILE]);
    expect({ code: res.code, stderr: res.stderr }).toEqual({ code: 0, stderr: '' });
    expect(res.stdout).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(rules.length).toBeGreaterThanOrEqual(20);
  });

  it('promtool test rules passes every unit test', async () => {
    const promtool = requireBinary('promtool');
    const res = await run(promtool, ['test', 'rules', RULES_TEST_FILE]);
    expect({ code: res.code, out: res.stdout + res.stderr }).toMatchObject({ code: 0 });
    expect(res.stdout).toContain('SUCCESS');
    expect(res.stdout).not.toContain('FAILED');
  });

  it('promtool check config accepts prometheus.yml and finds the rules file through it', async () => {
    const promtool = requireBinary('promtool');
    const res = await run(promtool, ['check', 'config', PROMETHEUS_CONFIG]);
    expect({ code: res.code, out: res.stdout + res.stderr }).toMatchObject({ code: 0 });
    expect(res.stdout).toContain('SUCCESS: 1 rule files found');
    expect(res.stdout).toContain(`${rules.length} rules found`);

    const config = asRecord(readYaml(PROMETHEUS_CONFIG), PROMETHEUS_CONFIG);
    const ruleFiles = asArray(config.rule_files, 'rule_files').map((f) =>
      resolve(dirname(PROMETHEUS_CONFIG), asString(f, 'rule_files[]')),
    );
    expect(ruleFiles).toEqual([RULES_FILE]);
  });

  it('amtool check-config accepts alertmanager.yml with a webhook receiver for Argus', async () => {
    const amtool = requireBinary('amtool');
    const res = await run(amtool, ['check-config', ALERTMANAGER_CONFIG]);
    expect({ code: res.code, out: res.stdout + res.stderr }).toMatchObject({ code: 0 });
    expect(res.stdout).toContain('SUCCESS');

    const config = asRecord(readYaml(ALERTMANAGER_CONFIG), ALERTMANAGER_CONFIG);
    const route = asRecord(config.route, 'route');
    const receivers = asArray(config.receivers, 'receivers').map((r) => asRecord(r, 'receiver'));
    const root = receivers.find((r) => r.name === route.receiver);
    expect(root).toBeDefined();
    const hooks = asArray(root?.webhook_configs, 'webhook_configs').map((h) =>
      asRecord(h, 'webhook'),
    );
    expect(hooks.map((h) => h.url)).toEqual(['http://argus:8080/v1/alerts/alertmanager']);
    expect(hooks[0].send_resolved).toBe(true);
  });

  it('every alert has firing and non-firing unit tests', () => {
    const cases = loadAlertCases();
    const missing: string[] = [];
    for (const rule of rules) {
      const mine = cases.filter((c) => c.alertname === rule.alert);
      if (!mine.some((c) => c.firing.length > 0))
        missing.push(`${rule.alert}: no case where it fires`);
      if (!mine.some((c) => c.firing.length === 0))
        missing.push(`${rule.alert}: no case where it stays quiet`);
    }
    const known = new Set(rules.map((r) => r.alert));
    for (const c of cases) {
      if (!known.has(c.alertname)) missing.push(`test case for unknown alert ${c.alertname}`);
    }
    expect(missing).toEqual([]);
  });

  it('every alert has a for, a severity, a summary and description naming the model, and a runbook', () => {
    const runbookAnchors = anchors(readFileSync(RUNBOOKS, 'utf8'));
    const cases = loadAlertCases();
    const problems: string[] = [];
    const names = new Set<string>();
    for (const rule of rules) {
      const where = rule.alert;
      if (names.has(rule.alert)) problems.push(`${where}: defined twice`);
      names.add(rule.alert);
      if (!rule.for || !/^\d+[smhd]$/.test(rule.for))
        problems.push(`${where}: for is ${String(rule.for)}`);
      if (!SEVERITIES.has(rule.labels.severity ?? ''))
        problems.push(`${where}: severity ${String(rule.labels.severity)}`);
      for (const key of ['summary', 'description', 'runbook_url']) {
        if (!rule.annotations[key]) problems.push(`${where}: no ${key} annotation`);
      }
      const runbook = /^docs\/runbooks\.md#([a-z0-9-]+)$/.exec(rule.annotations.runbook_url ?? '');
      if (!runbook) problems.push(`${where}: runbook_url ${String(rule.annotations.runbook_url)}`);
      else if (!runbookAnchors.has(runbook[1]))
        problems.push(`${where}: docs/runbooks.md has no section #${runbook[1]}`);
      if (runbook && runbook[1] !== rule.alert.toLowerCase())
        problems.push(`${where}: runbook anchor ${runbook[1]}`);
      // Alerts about one model carry its name into what the person paged reads first.
      const perModel = cases.some(
        (c) => c.alertname === rule.alert && c.firing.some((l) => 'model' in l),
      );
      const byModel =
        /\bby \(([^)]*\bmodel\b[^)]*)\)/.test(rule.expr) || /\bon \(model\)/.test(rule.expr);
      if (perModel !== byModel)
        problems.push(`${where}: tests and expression disagree on the model label`);
      if (perModel) {
        for (const key of ['summary', 'description']) {
          if (!rule.annotations[key]?.includes('{{ $labels.model }}')) {
            problems.push(`${where}: ${key} does not mention {{ $labels.model }}`);
          }
        }
      } else if (!rule.annotations.summary?.includes('{{ $labels.instance }}')) {
        problems.push(`${where}: an instance-level alert must name {{ $labels.instance }}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('every metric the rules read is documented in docs/metrics.md', () => {
    const doc = readFileSync(METRICS_DOC, 'utf8');
    const undocumented = new Set<string>();
    for (const rule of rules) {
      for (const name of metricNames(rule.expr)) {
        const base = name.replace(/_(bucket|sum|count)$/, '');
        if (name !== 'up' && !doc.includes(`\`${name}\``) && !doc.includes(`\`${base}\``)) {
          undocumented.add(`${rule.alert}: ${name}`);
        }
      }
    }
    expect([...undocumented]).toEqual([]);
  });

  it('the runbooks have one section per alert and no section for an alert that does not exist', () => {
    const markdown = readFileSync(RUNBOOKS, 'utf8');
    const sections = [...markdown.matchAll(/^## (Argus\w+)\s*$/gm)].map((m) => m[1]);
    expect(sections.sort()).toEqual(rules.map((r) => r.alert).sort());
    expect(existsSync(METRICS_DOC)).toBe(true);
  });
});
