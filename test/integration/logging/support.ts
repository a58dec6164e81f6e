import { DuckDBInstance } from '@duckdb/node-api';
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PredictionWriter } from '../../../src/predictions/prediction-writer';
import { ANALYTICS_STORE, AnalyticsStore } from '../../../src/store';
import { CLI, REPO_ROOT, TestServer } from '../../e2e/helpers';

/** Helpers of the prediction-log tests: real ClickHouse over HTTP, real DuckDB files, real processes. */

/**
 * Runs `sql` on ClickHouse over its HTTP interface (the query in the POST body, so long `IN`
 * lists fit) and returns the TabSeparated answer's rows. Used to check what is really stored,
 * independently of the store code under test.
 */
export async function clickhouseRows(url: string, sql: string): Promise<string[][]> {
  const res = await fetch(`${url}/`, {
    method: 'POST',
    body: `${sql} FORMAT TabSeparated`,
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  if (!res.ok)
    throw new Error(`ClickHouse answered ${res.status} to ${sql}: ${text.slice(0, 500)}`);
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.split('\t'));
}

/** Like `clickhouseRows`, in JSONEachRow (arrays and strings parsed by JSON, not by hand). */
export async function clickhouseJson<T>(url: string, sql: string): Promise<T[]> {
  const res = await fetch(`${url}/`, {
    method: 'POST',
    body: `${sql} FORMAT JSONEachRow`,
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  if (!res.ok)
    throw new Error(`ClickHouse answered ${res.status} to ${sql}: ${text.slice(0, 500)}`);
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as T);
}

/**
 * Checks that every id's stored `inputs` are the values sent for it, as Float32 (what the column
 * keeps): read as text (`toString`), so NaN-free values compare exactly after Math.fround.
 */
export async function expectStoredInputs(
  url: string,
  database: string,
  sent: ReadonlyMap<string, number[]>,
): Promise<void> {
  const rows = await clickhouseJson<{ id: string; inputs: string[] }>(
    url,
    `SELECT toString(id) AS id, arrayMap(x -> toString(x), inputs) AS inputs FROM ${database}.predictions LIMIT 1 BY id`,
  );
  const stored = new Map(rows.map((r) => [r.id, r.inputs.map((x) => Math.fround(Number(x)))]));
  const wrong = [...sent].filter(
    ([id, values]) =>
      JSON.stringify(stored.get(id)) !== JSON.stringify(values.map((v) => Math.fround(v))),
  );
  if (wrong.length > 0) {
    const [id, values] = wrong[0];
    throw new Error(
      `${wrong.length} of ${sent.size} predictions have other inputs than sent, e.g. ${id}: ` +
        `sent ${JSON.stringify(values)}, stored ${JSON.stringify(stored.get(id))}`,
    );
  }
}

export async function clickhouseNumber(url: string, sql: string): Promise<number> {
  const rows = await clickhouseRows(url, sql);
  return Number(rows[0]?.[0]);
}

/** Undoes ClickHouse's TabSeparated escaping of a String cell. */
export function tsvUnescape(cell: string): string {
  const map: Record<string, string> = {
    '\\': '\\',
    t: '\t',
    n: '\n',
    r: '\r',
    '0': '\0',
    b: '\b',
    f: '\f',
    "'": "'",
  };
  return cell.replace(/\\(.)/g, (_, c: string) => map[c] ?? c);
}

/** Rows of a query on a DuckDB file opened by this process (the server must have closed it). */
export async function duckDbRows(path: string, sql: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(path);
  try {
    const connection = await instance.connect();
    try {
      const reader = await connection.runAndReadAll(sql);
      return reader.getRowObjectsJS();
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}

export function storeOf(server: TestServer): AnalyticsStore {
  return server.running.app.get<AnalyticsStore>(ANALYTICS_STORE);
}

export function writerOf(server: TestServer): PredictionWriter {
  return server.running.app.get(PredictionWriter);
}

/** Spool segment files left under `${home}/spool/<table>` (and set-aside batches). */
export function spoolFiles(home: string, table = 'predictions'): string[] {
  const files: string[] = [];
  for (const dir of [join(home, 'spool', table), join(home, 'spool', 'rejected', table)]) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) if (name.endsWith('.spool')) files.push(join(dir, name));
  }
  return files;
}

/** A v1 predict body for the 4-feature fixture classifier: `rows` rows of plausible values. */
export function irisRows(rows: number, seed = 1): number[][] {
  return Array.from({ length: rows }, (_, r) => [
    4.5 + ((r * 7 + seed) % 30) / 10,
    2 + ((r * 3 + seed) % 20) / 10,
    1 + ((r * 11 + seed) % 50) / 10,
    0.1 + ((r * 5 + seed) % 24) / 10,
  ]);
}

export interface ArgusProcess {
  url: string;
  child: ChildProcess;
  /** stdout + stderr so far (the JSON logs). */
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * `node bin/argus.js serve` as a real child process with exactly `env` (plus PATH and HOME);
 * resolves once it logs the URL it listens on. Killed by `kill()` (and at process exit).
 */
export async function startArgusProcess(env: Record<string, string>): Promise<ArgusProcess> {
  const child = spawn(process.execPath, [CLI, 'serve'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  RUNNING.add(child);
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-200_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      RUNNING.delete(child);
      resolve();
    }),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`argus serve did not listen within 60 s:\n${output.slice(-3000)}`));
    }, 60_000);
    const look = () => {
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout?.on('data', look);
    child.stderr?.on('data', look);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`argus serve exited (${code ?? signal}) before listening:\n${output}`));
    });
  });
  return {
    url,
    child,
    output: () => output,
    kill: async (signal: NodeJS.Signals = 'SIGKILL') => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited;
    },
  };
}

const RUNNING = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of RUNNING) child.kill('SIGKILL');
});

/** Strings an attacker or an unlucky user might use as names and labels. */
export const HOSTILE = {
  sql: "'); DROP TABLE predictions; --",
  quotes: 'o\'brien "double" `back`',
  backslash: "trailing \\ back\\slash \\'",
  whitespace: 'new\nline\ttab\r\nend',
  unicode: 'Ünïcødé 模型 🚀 ∑',
  placeholders: "{model} {where} ' OR '1'='1",
};
