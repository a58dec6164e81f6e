import { ChildProcess, execFile, spawn } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { pollUntil, sleep } from '../harness/polling';

/**
 * Shared by the observability tests: repository paths, the Debian binaries they start (with an
 * install hint when one is missing), child-process helpers, and readers for the rule, dashboard
 * and provisioning files.
 */

export const REPO = join(__dirname, '..', '..');
export const RULES_FILE = join(REPO, 'deploy', 'prometheus', 'rules', 'argus.rules.yml');
export const RULES_TEST_FILE = join(REPO, 'deploy', 'prometheus', 'rules', 'argus.rules.test.yml');
export const PROMETHEUS_CONFIG = join(REPO, 'deploy', 'prometheus', 'prometheus.yml');
export const ALERTMANAGER_CONFIG = join(REPO, 'deploy', 'alertmanager', 'alertmanager.yml');
export const DASHBOARDS_DIR = join(REPO, 'dashboards');

/** Which Debian package ships each binary the tests run. */
const APT_PACKAGES: Record<string, string> = {
  prometheus: 'prometheus',
  promtool: 'prometheus',
  amtool: 'prometheus-alertmanager',
};

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Absolute path of `name` on PATH (or /usr/bin, /usr/sbin); throws with the apt package to install. */
export function requireBinary(name: string): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/sbin'];
  for (const dir of dirs) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  const pkg = APT_PACKAGES[name] ?? name;
  throw new Error(
    `${name} is not installed: run \`apt-get install ${pkg}\` (Debian package ${pkg}; ` +
      '`.ci/run` and scripts/install-system-deps.sh install it)',
  );
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; never throws on a non-zero exit (the caller asserts the code). */
export function run(file: string, args: string[], cwd = REPO): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { cwd, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err !== null && typeof err.code !== 'number') {
          reject(new Error(`${file} could not run: ${err.message}`));
          return;
        }
        resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
      },
    );
  });
}

const RUNNING = new Set<ChildProcess>();

// If jest dies without running afterAll, do not leave servers behind.
process.once('exit', () => {
  for (const child of RUNNING) child.kill('SIGKILL');
});

/** A long-running child (Prometheus) that keeps the tail of its output for error messages. */
export class ChildService {
  private output = '';
  private readonly exited: Promise<void>;
  private exitInfo: string | undefined;

  private constructor(private readonly child: ChildProcess) {
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString('utf8')).slice(-6000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    RUNNING.add(child);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = signal !== null ? `signal ${signal}` : `exit code ${String(code)}`;
        RUNNING.delete(child);
        resolve();
      });
      child.once('error', (err) => {
        this.exitInfo = err.message;
        RUNNING.delete(child);
        resolve();
      });
    });
  }

  static start(file: string, args: string[], cwd: string): ChildService {
    return new ChildService(spawn(file, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] }));
  }

  /** Undefined while running. */
  get exit(): string | undefined {
    return this.exitInfo;
  }

  get log(): string {
    return this.output;
  }

  /** SIGTERM, SIGKILL after `timeoutMs`; resolves when the process is gone. */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (this.exitInfo !== undefined) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}

export { sleep };

/** Polls `check` until it returns a value; fails with `what` and the last error after `timeoutMs`. */
export function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  intervalMs = 200,
): Promise<T> {
  return pollUntil(what, check, timeoutMs, intervalMs);
}

export function readYaml(file: string): unknown {
  return parseYaml(readFileSync(file, 'utf8')) as unknown;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function asRecord(value: unknown, where: string): Record<string, unknown> {
  if (!isRecord(value)) throw new Error(`${where} is not a mapping`);
  return value;
}

export function asArray(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${where} is not a list`);
  return value;
}

export function asString(value: unknown, where: string): string {
  if (typeof value !== 'string') throw new Error(`${where} is not a string`);
  return value;
}

// ---------------------------------------------------------------------------------------------
// Alert rules
// ---------------------------------------------------------------------------------------------

export interface AlertRule {
  group: string;
  alert: string;
  expr: string;
  for: string | undefined;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

function stringMap(value: unknown, where: string): Record<string, string> {
  if (value === undefined) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(asRecord(value, where)))
    out[k] = asString(v, `${where}.${k}`);
  return out;
}

export function loadAlertRules(file = RULES_FILE): AlertRule[] {
  const root = asRecord(readYaml(file), file);
  const rules: AlertRule[] = [];
  for (const [gi, g] of asArray(root.groups, 'groups').entries()) {
    const group = asRecord(g, `groups[${gi}]`);
    for (const [ri, r] of asArray(group.rules, `groups[${gi}].rules`).entries()) {
      const rule = asRecord(r, `groups[${gi}].rules[${ri}]`);
      if (rule.alert === undefined) continue;
      const where = `alert ${asString(rule.alert, `groups[${gi}].rules[${ri}].alert`)}`;
      rules.push({
        group: asString(group.name, `groups[${gi}].name`),
        alert: asString(rule.alert, where),
        expr: asString(rule.expr, `${where}.expr`),
        for: rule.for === undefined ? undefined : asString(rule.for, `${where}.for`),
        labels: stringMap(rule.labels, `${where}.labels`),
        annotations: stringMap(rule.annotations, `${where}.annotations`),
      });
    }
  }
  return rules;
}

// ---------------------------------------------------------------------------------------------
// Dashboards
// ---------------------------------------------------------------------------------------------

export interface DatasourceRef {
  type: string;
  uid: string;
}

export interface PanelTarget {
  dashboard: string;
  panel: string;
  refId: string;
  datasource: DatasourceRef;
  /** PromQL (Prometheus targets). */
  expr?: string;
  /** SQL (ClickHouse targets). */
  rawSql?: string;
}

export interface TemplateVariable {
  name: string;
  datasource: DatasourceRef;
  /** label_values(...) for Prometheus, SQL for ClickHouse. */
  query: string;
  includeAll: boolean;
  multi: boolean;
  allValue: string | undefined;
}

export interface Dashboard {
  file: string;
  uid: string;
  title: string;
  schemaVersion: number;
  variables: TemplateVariable[];
  /** Panels other than rows. */
  panels: Array<{ title: string; type: string; targets: PanelTarget[] }>;
  targets: PanelTarget[];
}

export const PROMETHEUS_UID = 'argus-prometheus';
export const CLICKHOUSE_UID = 'argus-clickhouse';

function datasourceRef(value: unknown, where: string): DatasourceRef {
  const ds = asRecord(value, `${where}.datasource`);
  return {
    type: asString(ds.type, `${where}.datasource.type`),
    uid: asString(ds.uid, `${where}.datasource.uid`),
  };
}

export function dashboardFiles(): string[] {
  return readdirSync(DASHBOARDS_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => join(DASHBOARDS_DIR, f));
}

export function loadDashboard(file: string): Dashboard {
  const root = asRecord(JSON.parse(readFileSync(file, 'utf8')) as unknown, file);
  const title = asString(root.title, `${file}: title`);
  const templating = asRecord(root.templating, `${file}: templating`);
  const variables = asArray(templating.list, `${file}: templating.list`).map((v, i) => {
    const variable = asRecord(v, `${file}: templating.list[${i}]`);
    const where = `${file}: variable ${String(variable.name)}`;
    const datasource = datasourceRef(variable.datasource, where);
    const query = variable.query;
    const text =
      typeof query === 'string'
        ? query
        : datasource.type === 'prometheus'
          ? asString(asRecord(query, `${where}.query`).query, `${where}.query.query`)
          : asString(asRecord(query, `${where}.query`).rawSql, `${where}.query.rawSql`);
    return {
      name: asString(variable.name, `${where}.name`),
      datasource,
      query: text,
      includeAll: variable.includeAll === true,
      multi: variable.multi === true,
      allValue: typeof variable.allValue === 'string' ? variable.allValue : undefined,
    };
  });
  const panels: Dashboard['panels'] = [];
  const all: PanelTarget[] = [];
  for (const [pi, p] of asArray(root.panels, `${file}: panels`).entries()) {
    const panel = asRecord(p, `${file}: panels[${pi}]`);
    if (panel.type === 'row') continue;
    const panelTitle = asString(panel.title, `${file}: panels[${pi}].title`);
    const where = `${file}: panel "${panelTitle}"`;
    const targets = asArray(panel.targets, `${where}.targets`).map((t, ti) => {
      const target = asRecord(t, `${where}.targets[${ti}]`);
      const datasource = datasourceRef(
        target.datasource ?? panel.datasource,
        `${where}.targets[${ti}]`,
      );
      const out: PanelTarget = {
        dashboard: title,
        panel: panelTitle,
        refId: asString(target.refId, `${where}.targets[${ti}].refId`),
        datasource,
      };
      if (datasource.type === 'prometheus')
        out.expr = asString(target.expr, `${where}.targets[${ti}].expr`);
      else out.rawSql = asString(target.rawSql, `${where}.targets[${ti}].rawSql`);
      return out;
    });
    panels.push({ title: panelTitle, type: asString(panel.type, `${where}.type`), targets });
    all.push(...targets);
  }
  return {
    file,
    uid: asString(root.uid, `${file}: uid`),
    title,
    schemaVersion: Number(root.schemaVersion),
    variables,
    panels,
    targets: all,
  };
}

export function loadDashboards(): Dashboard[] {
  return dashboardFiles().map(loadDashboard);
}

/**
 * Metric names a PromQL expression reads: identifiers followed by a selector, a range or the end
 * of a vector expression, excluding PromQL keywords, functions and label names inside braces.
 */
export function metricNames(expr: string): string[] {
  const withoutStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const withoutMatchers = withoutStrings
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\[[^\]]*\]/g, '[]')
    .replace(/\$\{?\w+\}?/g, '');
  const withoutGrouping = withoutMatchers.replace(
    /\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g,
    '',
  );
  const names = new Set<string>();
  for (const m of withoutGrouping.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?/g)) {
    if (m[2]) continue; // a function call
    const word = m[1];
    if (PROMQL_WORDS.has(word) || /^\d/.test(word)) continue;
    names.add(word);
  }
  return [...names];
}

const PROMQL_WORDS = new Set([
  'and',
  'or',
  'unless',
  'offset',
  'bool',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'inf',
  'nan',
  'Inf',
  'NaN',
  'e',
  's',
  'm',
  'h',
  'd',
  'w',
  'y',
  'ms',
]);
