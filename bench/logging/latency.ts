import autocannon from 'autocannon';
import { ChildProcess, fork, spawnSync } from 'node:child_process';
import { Dirent, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { OnnxRuntime } from '../../src/onnx/onnx-runtime';
import { ModelRegistry } from '../../src/registry/model-registry';
import { DuckDbStore } from '../../src/store/duckdb-store';
import { mnistSizedClassifier, tabularClassifier } from '../../test/fixtures/models';
import type { ChildMessage, ReadyMessage, StatsMessage } from '../serving/child';
import { buildPayload, mnistRows, Payload } from '../serving/payloads';
import { LatencySummary, summarize } from '../serving/stats';
import { driveOpenLoop, OpenLoopResult } from './open-loop';
import { rowTemplates } from './rows';

/** The middle value; the mean of the two middle ones for an even count. */
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * (iii) of the logging benchmark: what prediction logging adds to the predict path. Two Argus
 * children (bench/serving/argus-server.ts, the real `startServer`), same model (see
 * `LatencyWorkload`), same ClickHouse; one logs every prediction (`ARGUS_LOG_PREDICTIONS=true`,
 * the default), the other has logging off. autocannon drives single-row v1 requests at N connections; the sides alternate in
 * ABBA order (off, on, on, off, ...; `rounds` runs each) so slow drift of a shared machine affects
 * both alike, and the median p99 of each side's runs is compared. While one side is measured the
 * other is stopped (`measuredAlone`, since session 10).
 */

const ROOT = resolve(__dirname, '..', '..');
const CLASS_NAMES = Array.from({ length: 10 }, (_, d) => String(d));
const WARMUP_SECONDS = 2;

/**
 * What the predict requests carry, and so what each logged row holds:
 * - `tabular`: the row shape, the same as the writer measurement's (8 features, 10
 *   scores): a 8 → 16 → 10 classifier fed generated features;
 * - `mnist`: 784 pixels of real MNIST digits into a 784 → 128 → 10 classifier. Each logged row
 *   carries ~100× the input bytes, which the store has to take on the same two cores.
 */
export type LatencyWorkload = 'tabular' | 'mnist';
export const LATENCY_WORKLOADS: readonly LatencyWorkload[] = ['tabular', 'mnist'];

function workloadModel(workload: LatencyWorkload): { model: Uint8Array; rows: number[][] } {
  return workload === 'mnist'
    ? { model: mnistSizedClassifier(), rows: mnistRows(256) }
    : { model: tabularClassifier(), rows: rowTemplates(256).map((t) => Array.from(t.inputs)) };
}

export interface LatencySide extends LatencySummary {
  reqPerSec: number;
  /** 2xx answers over every run of this child, warm-ups included. */
  served: number;
  non2xx: number;
  errors: number;
  /** Logging on: distinct ids stored in ClickHouse after the child shut down. */
  logged?: number;
  /**
   * Logging on: bytes left in the child's spool at exit (batches the store did not take in time,
   * replayed at the next start — not lost). Non-zero means the store fell behind during the run.
   */
  spooledBytesAtExit?: number;
  /** Median over the runs of the server's CPU time per answered request (all threads). */
  cpuUsPerRequest: number;
  /** The same for the server's main thread alone: the event loop every request waits for. */
  mainThreadCpuUsPerRequest: number;
  /** Median over the runs of clickhouse-server's CPU time per answered request. */
  clickhouseCpuUsPerRequest: number;
  runs: Array<{
    p99Ms: number;
    p50Ms: number;
    reqPerSec: number;
    cpuUsPerRequest: number;
    mainThreadCpuUsPerRequest: number;
    clickhouseCpuUsPerRequest: number;
  }>;
}

export interface LatencyComparison {
  workload: LatencyWorkload;
  /** Where the logging-on child logs: ClickHouse, or the embedded DuckDB file (the default store). */
  store: 'clickhouse' | 'duckdb';
  /** clickhouse-server pinned to its own core(s), Argus and the load generator to the others. */
  isolated: boolean;
  /** clickhouse-server ran at nice 19 during this comparison. */
  niced: boolean;
  connections: number;
  seconds: number;
  rounds: number;
  on: LatencySide;
  off: LatencySide;
  /** The same two children at fixed request rates below capacity (open loop), if asked. */
  openLoop: OpenLoopComparison[];
}

/** One side of an open-loop comparison; latencies from each request's scheduled send time. */
export interface OpenLoopSide {
  /** Medians over the runs. */
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  cpuUsPerRequest: number;
  mainThreadCpuUsPerRequest: number;
  ok: number;
  non2xx: number;
  errors: number;
  runs: Array<{
    p50Ms: number;
    p99Ms: number;
    p999Ms: number;
    cpuUsPerRequest: number;
    mainThreadCpuUsPerRequest: number;
  }>;
}

export interface OpenLoopComparison {
  /** Share of the logging-off side's closed-loop throughput (this run's capacity). */
  fraction: number;
  /** Requests per second sent to each side. */
  rate: number;
  on: OpenLoopSide;
  off: OpenLoopSide;
}

export interface LatencyOptions {
  clickhouseUrl: string;
  /**
   * Where logging goes: `clickhouse` (default; `clickhouseUrl`) or `duckdb` (no CLICKHOUSE_URL: the
   * child logs into `ARGUS_HOME/argus.duckdb`, the default store; the logging-off child still has
   * no store traffic at all).
   */
  store?: 'clickhouse' | 'duckdb';
  /** Model and rows of the predict requests (default `tabular`). */
  workload?: LatencyWorkload;
  /** Names this comparison's ARGUS_HOMEs and databases apart from the others of the run. */
  tag?: string;
  /** clickhouse-server runs at nice 19 (recorded in the result; the caller renices it). */
  niced?: boolean;
  /** Runs before every measured drive (e.g. to renice threads clickhouse-server started since). */
  beforeRun?: () => void;
  seconds: number;
  connections: number;
  rounds?: number;
  /**
   * After the closed-loop runs, drive both sides open-loop (fixed rate, `open-loop.ts`) at these
   * shares of the logging-off side's closed-loop req/s, ABBA like the closed-loop runs.
   */
  openLoopFractions?: number[];
  work: string;
  log: (message: string) => void;
  /** Write a V8 CPU profile of each Argus child into this directory. */
  cpuProfDir?: string;
  /** CPU time used so far by the clickhouse-server process, ms (it shares the machine). */
  clickhouseCpuMs?: () => number;
  /**
   * Pin clickhouse-server to one core and the Argus children and this process (the load generator)
   * to the others (`taskset`), as if ClickHouse ran on its own machine. Restored afterwards.
   */
  isolate?: {
    clickhousePid: number;
    clickhouseCores: string;
    argusCores: string;
    allCores: string;
  };
}

interface CpuSample {
  allThreadsMs: number;
  mainThreadMs: number;
}

/** `ms` of CPU time spread over `requests`, in µs per request. */
function usPerRequest(ms: number, requests: number): number {
  return (ms * 1000) / Math.max(1, requests);
}

/** µs per request of each kind of CPU time between two samples. */
function cpuPerRequest(before: CpuSample, after: CpuSample, requests: number) {
  return {
    all: usPerRequest(after.allThreadsMs - before.allThreadsMs, requests),
    mainThread: usPerRequest(after.mainThreadMs - before.mainThreadMs, requests),
  };
}

interface Child {
  url: string;
  process: ChildProcess;
  /** CPU time (user + system) the child has used so far, ms: all threads, and its main thread. */
  cpuMs(): Promise<CpuSample>;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

async function startArgus(
  id: string,
  env: Record<string, string>,
  cpuProfDir?: string,
): Promise<Child> {
  const inherited: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^(ARGUS_|CLICKHOUSE_|OTEL_)/.test(k) || k === 'PORT') continue;
    inherited[k] = v;
  }
  const proc = fork(join(ROOT, 'bench', 'serving', 'argus-server.ts'), [], {
    cwd: ROOT,
    execArgv: [
      '-r',
      join(ROOT, 'bench', 'serving', 'ts-hook.cjs'),
      ...(cpuProfDir
        ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`, `--cpu-prof-name=${id}.cpuprofile`]
        : []),
    ],
    env: { ...inherited, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  children.add(proc);
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-8000));
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const exited = new Promise<void>((res) => proc.once('exit', () => res()));
  void exited.then(() => children.delete(proc));
  const ready = await new Promise<ReadyMessage>((res, rej) => {
    const timer = setTimeout(
      () => rej(new Error(`${id} did not start in 120 s:\n${output}`)),
      120_000,
    );
    proc.on('message', (m: ChildMessage) => {
      if (m.type === 'ready') {
        clearTimeout(timer);
        res(m);
      } else if (m.type === 'failed') {
        clearTimeout(timer);
        rej(new Error(`${id} failed to start: ${m.error}`));
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`${id} exited with code ${code} before listening:\n${output}`));
    });
  });
  return {
    url: ready.url,
    process: proc,
    cpuMs: () =>
      new Promise<CpuSample>((res, rej) => {
        const timer = setTimeout(
          () => rej(new Error(`${id} did not answer a stats request`)),
          60_000,
        );
        const onMessage = (m: ChildMessage) => {
          if (m.type !== 'stats') return;
          clearTimeout(timer);
          proc.off('message', onMessage);
          const stats: StatsMessage = m;
          res({
            allThreadsMs: (stats.cpuUserMicros + stats.cpuSystemMicros) / 1000,
            mainThreadMs: stats.mainThreadCpuMs,
          });
        };
        proc.on('message', onMessage);
        proc.send({ type: 'stats' });
      }),
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.send({ type: 'shutdown' });
      const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

interface Drive {
  /** Server CPU per answered request, µs: all threads, and the main thread alone. */
  cpuUsPerRequest?: number;
  mainThreadCpuUsPerRequest?: number;
  /** clickhouse-server CPU per answered request, µs (inserting the log, merging its parts). */
  clickhouseCpuUsPerRequest?: number;
  latencies: number[];
  ok: number;
  non2xx: number;
  errors: number;
  seconds: number;
}

async function drive(
  url: string,
  payload: Payload,
  seconds: number,
  connections: number,
): Promise<Drive> {
  const latencies: number[] = [];
  let ok = 0;
  let non2xx = 0;
  const instance = autocannon({
    url,
    connections,
    duration: seconds,
    pipelining: 1,
    timeout: 30,
    requests: payload.bodies.map((body) => ({
      method: 'POST',
      path: payload.path,
      headers: payload.headers,
      body,
    })),
  });
  let started = performance.now();
  instance.on('start', () => (started = performance.now()));
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    if (statusCode >= 200 && statusCode < 300) {
      ok++;
      latencies.push(responseTime);
    } else non2xx++;
  });
  const result = await instance;
  return {
    latencies,
    ok,
    non2xx,
    errors: result.errors + result.timeouts,
    seconds: (performance.now() - started) / 1000,
  };
}

/** One statement over ClickHouse's HTTP interface; the answer's text, trimmed. */
export async function clickhouseQuery(url: string, sql: string): Promise<string> {
  const res = await fetch(`${url}/?query=${encodeURIComponent(sql)}`, { method: 'POST' });
  const text = await res.text();
  if (!res.ok) throw new Error(`ClickHouse answered ${res.status}: ${text.slice(0, 500)}`);
  return text.trim();
}

async function clickhouseCount(url: string, sql: string): Promise<number> {
  return Number(await clickhouseQuery(url, sql));
}

/** Total size of the files under `dir` (0 if it does not exist). */
function directoryBytes(dir: string): number {
  let total = 0;
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? directoryBytes(path) : statSync(path).size;
  }
  return total;
}

/** Successful predictions in a DuckDB file the logging child wrote (ids are unique there). */
async function duckdbCount(path: string): Promise<number> {
  const db = await DuckDbStore.open({ path });
  try {
    const counts = await db.countPredictions();
    return counts.filter((c) => c.status === 200).reduce((sum, c) => sum + c.count, 0);
  } finally {
    await db.close();
  }
}

/**
 * Waits (at most 10 s) until neither child uses more than a tenth of a core: the logging child
 * keeps inserting, committing and checkpointing for a while after its load stops, and an
 * open-loop run of the other side would otherwise measure that too.
 */
async function settle(servers: Array<Child | undefined>): Promise<void> {
  const deadline = performance.now() + 10_000;
  const cpu = async (s: Child | undefined): Promise<number> =>
    s ? (await s.cpuMs()).allThreadsMs : 0;
  while (performance.now() < deadline) {
    const before = await Promise.all(servers.map(cpu));
    await new Promise((r) => setTimeout(r, 250));
    const after = await Promise.all(servers.map(cpu));
    if (after.every((ms, i) => ms - before[i] < 25)) return;
  }
}

/**
 * Runs `body` with every server but `measured` stopped (SIGSTOP, then SIGCONT), so a run measures
 * one server alone. Both children live for the whole comparison, and the logging child's own
 * work — its monitoring runs every minute, the store's queries over what it logged, DuckDB's
 * threads — otherwise ran while the other side was measured and landed in that side's p99.
 */
async function measuredAlone<T>(
  measured: Child,
  all: Array<Child | undefined>,
  body: () => Promise<T>,
): Promise<T> {
  const paused = all.filter((c): c is Child => c !== undefined && c !== measured);
  for (const child of paused) child.process.kill('SIGSTOP');
  try {
    return await body();
  } finally {
    for (const child of paused) child.process.kill('SIGCONT');
  }
}

/** Sets the CPU affinity of every thread of `pid` (Linux `taskset`). */
function pin(pid: number, cores: string): void {
  const result = spawnSync('taskset', ['-a', '-p', '-c', cores, String(pid)], { encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`taskset -a -p -c ${cores} ${pid} failed: ${result.stderr || result.error}`);
  }
}

export async function runLatencyComparison(options: LatencyOptions): Promise<LatencyComparison> {
  const rounds = options.rounds ?? 3;
  const workload = options.workload ?? 'tabular';
  const { model, rows: payloadRows } = workloadModel(workload);
  const store = options.store ?? 'clickhouse';
  const tag = options.tag ?? (options.isolate ? '-isolated' : '');
  const homes: Record<'on' | 'off', string> = {
    on: join(options.work, `latency-on${tag}`),
    off: join(options.work, `latency-off${tag}`),
  };
  for (const home of Object.values(homes)) {
    const registry = new ModelRegistry({ home }, new OnnxRuntime());
    await registry.register(
      workload,
      model,
      { task: 'classification', class_names: CLASS_NAMES },
      { alias: 'champion' },
    );
  }
  const database = { on: 'bench_latency_on', off: 'bench_latency_off' };
  const common: Record<string, string> =
    store === 'clickhouse' ? { CLICKHOUSE_URL: options.clickhouseUrl } : {};
  const databaseEnv = (name: string): Record<string, string> =>
    store === 'clickhouse' ? { CLICKHOUSE_DATABASE: name } : {};
  const servers: Partial<Record<'on' | 'off', Child>> = {};
  const sides: Record<
    'on' | 'off',
    { drives: Drive[]; served: number; non2xx: number; errors: number }
  > = {
    on: { drives: [], served: 0, non2xx: 0, errors: 0 },
    off: { drives: [], served: 0, non2xx: 0, errors: 0 },
  };
  const openLoop: OpenLoopComparison[] = [];
  // Each comparison logs into its own databases.
  const suffix = tag.replace(/\W/g, '_');
  database.on += suffix;
  database.off += suffix;
  try {
    servers.off = await startArgus(
      `logging-off${tag}`,
      {
        ...common,
        ARGUS_HOME: homes.off,
        ...databaseEnv(database.off),
        ARGUS_LOG_PREDICTIONS: 'false',
      },
      options.cpuProfDir,
    );
    servers.on = await startArgus(
      `logging-on${tag}`,
      {
        ...common,
        ARGUS_HOME: homes.on,
        ...databaseEnv(database.on),
        ARGUS_LOG_PREDICTIONS: 'true',
      },
      options.cpuProfDir,
    );
    const isolate = options.isolate;
    if (isolate) {
      pin(isolate.clickhousePid, isolate.clickhouseCores);
      for (const pid of [process.pid, servers.off.process.pid, servers.on.process.pid]) {
        if (pid !== undefined) pin(pid, isolate.argusCores);
      }
    }
    const payload = buildPayload('v1', workload, 'input', 1, payloadRows);
    for (const side of ['off', 'on'] as const) {
      const warm = await drive(servers[side]!.url, payload, WARMUP_SECONDS, options.connections);
      sides[side].served += warm.ok;
    }
    // ABBA: off, on, on, off, off, on, ... so a drifting machine load affects both sides alike.
    const runs: Array<'on' | 'off'> = [];
    for (let r = 0; r < rounds; r++)
      runs.push(...(r % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)));
    const both = [servers.off, servers.on];
    for (const side of runs) {
      options.beforeRun?.();
      const server = servers[side]!;
      const cpuBefore = await server.cpuMs();
      const chBefore = options.clickhouseCpuMs?.() ?? NaN;
      const result = await measuredAlone(server, both, () =>
        drive(server.url, payload, options.seconds, options.connections),
      );
      const cpu = cpuPerRequest(cpuBefore, await server.cpuMs(), result.ok);
      result.cpuUsPerRequest = cpu.all;
      result.mainThreadCpuUsPerRequest = cpu.mainThread;
      result.clickhouseCpuUsPerRequest = usPerRequest(
        (options.clickhouseCpuMs?.() ?? NaN) - chBefore,
        result.ok,
      );
      sides[side].drives.push(result);
      sides[side].served += result.ok;
      sides[side].non2xx += result.non2xx;
      sides[side].errors += result.errors;
      const s = summarize(result.latencies);
      options.log(
        `${side === 'on' ? 'logging on ' : 'logging off'}: ${(result.ok / result.seconds).toFixed(0)} req/s, p50 ${s.p50Ms.toFixed(2)} ms, p99 ${s.p99Ms.toFixed(2)} ms, server CPU ${result.cpuUsPerRequest.toFixed(0)} µs/request (main thread ${cpu.mainThread.toFixed(0)}), clickhouse CPU ${result.clickhouseCpuUsPerRequest.toFixed(0)} µs/request`,
      );
    }
    const capacity = median(sides.off.drives.map((d) => d.ok / d.seconds));
    for (const fraction of options.openLoopFractions ?? []) {
      const rate = Math.max(1, Math.round(fraction * capacity));
      const openRuns: Record<
        'on' | 'off',
        Array<{
          run: OpenLoopResult;
          summary: LatencySummary;
          cpu: ReturnType<typeof cpuPerRequest>;
        }>
      > = {
        on: [],
        off: [],
      };
      for (const side of runs) {
        options.beforeRun?.();
        await settle(both);
        const server = servers[side]!;
        const cpuBefore = await server.cpuMs();
        const run = await measuredAlone(server, both, () =>
          driveOpenLoop(server.url, payload, rate, options.seconds),
        );
        const cpu = cpuPerRequest(cpuBefore, await server.cpuMs(), run.ok);
        const s = summarize(run.latencies);
        openRuns[side].push({ run, summary: s, cpu });
        sides[side].served += run.ok;
        options.log(
          `open loop ${rate} req/s (${(fraction * 100).toFixed(0)} % of capacity), ${side === 'on' ? 'logging on ' : 'logging off'}: p50 ${s.p50Ms.toFixed(2)} ms, p99 ${s.p99Ms.toFixed(2)} ms, max ${s.maxMs.toFixed(1)} ms, ${run.ok} ok, ${run.non2xx + run.errors} failed, at most ${run.connectionsUsed} in flight, server CPU ${cpu.all.toFixed(0)} µs/request (main thread ${cpu.mainThread.toFixed(0)})`,
        );
      }
      const summarizeOpen = (side: 'on' | 'off'): OpenLoopSide => {
        const perRun = openRuns[side].map(({ summary, cpu }) => ({
          p50Ms: summary.p50Ms,
          p99Ms: summary.p99Ms,
          p999Ms: summary.p999Ms,
          maxMs: summary.maxMs,
          cpuUsPerRequest: cpu.all,
          mainThreadCpuUsPerRequest: cpu.mainThread,
        }));
        const sum = (f: (r: OpenLoopResult) => number) =>
          openRuns[side].reduce((total, { run }) => total + f(run), 0);
        return {
          p50Ms: median(perRun.map((r) => r.p50Ms)),
          p99Ms: median(perRun.map((r) => r.p99Ms)),
          p999Ms: median(perRun.map((r) => r.p999Ms)),
          maxMs: Math.max(...perRun.map((r) => r.maxMs)),
          cpuUsPerRequest: median(perRun.map((r) => r.cpuUsPerRequest)),
          mainThreadCpuUsPerRequest: median(perRun.map((r) => r.mainThreadCpuUsPerRequest)),
          ok: sum((r) => r.ok),
          non2xx: sum((r) => r.non2xx),
          errors: sum((r) => r.errors),
          runs: perRun.map(({ maxMs: _max, ...rest }) => rest),
        };
      };
      openLoop.push({ fraction, rate, on: summarizeOpen('on'), off: summarizeOpen('off') });
    }
  } finally {
    await Promise.all([servers.on?.stop(), servers.off?.stop()]);
    if (options.isolate) {
      pin(options.isolate.clickhousePid, options.isolate.allCores);
      pin(process.pid, options.isolate.allCores);
    }
  }
  const logged =
    store === 'clickhouse'
      ? await clickhouseCount(
          options.clickhouseUrl,
          `SELECT uniqExact(id) FROM ${database.on}.predictions WHERE status = 200`,
        )
      : await duckdbCount(join(homes.on, 'argus.duckdb'));
  // Counted: drop this comparison's tables, or merging their parts (hundreds of thousands of
  // logged MNIST rows) keeps clickhouse-server busy on the same cores during the next comparison.
  // Session 7's DuckDB comparison ran beside such merges: clickhouse-server used up to 465 µs of
  // CPU per request of a side that did not log to it at all.
  for (const name of [database.on, database.off]) {
    await clickhouseQuery(options.clickhouseUrl, `DROP DATABASE IF EXISTS ${name}`);
  }

  const summarizeSide = (side: 'on' | 'off'): LatencySide => {
    const runs = sides[side].drives.map((d) => {
      const s = summarize(d.latencies);
      return {
        p99Ms: s.p99Ms,
        p50Ms: s.p50Ms,
        reqPerSec: d.ok / d.seconds,
        cpuUsPerRequest: d.cpuUsPerRequest ?? NaN,
        mainThreadCpuUsPerRequest: d.mainThreadCpuUsPerRequest ?? NaN,
        clickhouseCpuUsPerRequest: d.clickhouseCpuUsPerRequest ?? NaN,
      };
    });
    const all = summarize(sides[side].drives.flatMap((d) => d.latencies));
    return {
      ...all,
      p99Ms: median(runs.map((r) => r.p99Ms)),
      p50Ms: median(runs.map((r) => r.p50Ms)),
      reqPerSec: median(runs.map((r) => r.reqPerSec)),
      cpuUsPerRequest: median(runs.map((r) => r.cpuUsPerRequest)),
      mainThreadCpuUsPerRequest: median(runs.map((r) => r.mainThreadCpuUsPerRequest)),
      clickhouseCpuUsPerRequest: median(runs.map((r) => r.clickhouseCpuUsPerRequest)),
      served: sides[side].served,
      non2xx: sides[side].non2xx,
      errors: sides[side].errors,
      runs,
    };
  };
  return {
    workload,
    store,
    isolated: options.isolate !== undefined,
    niced: options.niced === true,
    connections: options.connections,
    seconds: options.seconds,
    rounds,
    openLoop,
    off: summarizeSide('off'),
    on: {
      ...summarizeSide('on'),
      logged,
      spooledBytesAtExit: directoryBytes(join(homes.on, 'spool')),
    },
  };
}
