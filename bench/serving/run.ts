import autocannon from 'autocannon';
import { ChildProcess, fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { OnnxRuntime } from '../../src/onnx/onnx-runtime';
import { ModelRegistry } from '../../src/registry/model-registry';
import { ClickHouseServer } from '../../test/harness/clickhouse-server';
import { mnistSizedClassifier } from '../../test/fixtures/models';
import { BARE_SESSION_OPTIONS } from '../baselines/bare-fastify-server';
import type { ChildMessage, ReadyMessage, StatsMessage } from './child';
import { CollectorCounts, startStubCollector, StubCollector } from './otlp-stub-collector';
import { buildPayload, FEATURES, mnistRows, Payload, Protocol, PROTOCOLS } from './payloads';
import { LatencySummary, median, promSum, summarize } from './stats';

/**
 * The serving benchmark (issue 2, DESIGN.md §7). One run measures, on loopback, with the same
 * MNIST-sized model (784 → 128 → 10 MLP) and byte-identical request bodies:
 *   raw               session.run in a loop in this process (the ceiling; no HTTP)
 *   bare              bench/baselines/bare-fastify-server.ts (Fastify + ORT, no batching)
 *   argus-batching    Argus with the default dynamic batching
 *   argus-no-batching Argus with ARGUS_MAX_BATCH_SIZE=1
 * Each server runs in its own child process; autocannon drives it from this process with N
 * connections (default 32) for a fixed time after a warm-up. Prints a table with ratios against
 * the bare server and the issue's target, and writes bench/results/serving.json.
 *
 *   node -r ts-node/register/transpile-only bench/serving/run.ts [--quick] [--duration 10] ...
 */

const ROOT = resolve(__dirname, '..', '..');
const MODEL_NAME = 'mnist';
const CLASS_NAMES = Array.from({ length: 10 }, (_, d) => String(d));
const TARGET = { minRowsRatio: 1.0, maxP99Ratio: 1.2 };

type TargetKind = 'bare' | 'argus';

interface TargetSpec {
  id: string;
  kind: TargetKind;
  description: string;
  script: string;
  env: Record<string, string>;
  /** Checkout the child runs from (default: this one). */
  root?: string;
  /**
   * OpenTelemetry on, preloaded with `-r src/telemetry/register-tracing.ts` exactly as
   * `bin/argus.js serve` does, exporting OTLP/HTTP to the stub collector this process runs.
   */
  tracing?: { sampler: string; samplerArg?: string };
  /** Prediction log in a clickhouse-server this run starts (test/harness/clickhouse-server.ts). */
  clickhouse?: boolean;
  /** Which issue's target its single-row lines are held to (2: serving core, 4: observability). */
  issue?: 2 | 4;
}

interface ServerStats {
  cpuMsPer1kRows: number;
  /** Server process CPU as a percentage of one core (may exceed 100 with ORT/libuv threads). */
  cpuPercent: number;
  eventLoopUtilization: number;
  rssMB: number;
}

interface BatchStats {
  batches: number;
  meanBatchRows: number;
  meanRequestsPerBatch: number;
  meanQueueWaitMs: number;
  meanInferenceMs: number;
}

interface RunResult {
  round: number;
  target: string;
  kind: TargetKind | 'raw';
  protocol: Protocol | 'in-process';
  rowsPerRequest: number;
  connections: number;
  seconds: number;
  requests: number;
  reqPerSec: number;
  rowsPerSec: number;
  latency: LatencySummary;
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  bytesPerRequest: number;
  loadGeneratorCpuPercent: number;
  server?: ServerStats;
  batching?: BatchStats;
  issue?: 2 | 4;
  /** What the traced target exported to the stub collector during the measured window. */
  export?: { requestsPerSec: number; kBytesPerSec: number; bytesPerRow: number };
}

interface Comparison {
  target: string;
  protocol: Protocol;
  rowsPerRequest: number;
  rowsPerSecVsBare: number;
  p99VsBare: number;
  rowsPerSecVsRaw: number;
  /** Server CPU per row ÷ bare's: the cost ratio, which machine noise distorts far less. */
  cpuPerRowVsBare: number;
  /** The issue whose target this line is held to; undefined = for information. */
  issue: 2 | 4 | undefined;
  pass: boolean;
}

interface Settings {
  durationSec: number;
  warmupSec: number;
  connections: number;
  protocols: Protocol[];
  rows: number[];
  targets: string[];
  rounds: number;
  out: string;
  cpuProfDir: string | undefined;
  childLoader: ChildLoader;
  /** Extra KEY=VALUE settings for every Argus target (experiments; recorded in the JSON). */
  argusEnv: Record<string, string>;
  /** Another checkout whose Argus runs as target `argus-alt` (A/B of a change in one run). */
  altRoot: string | undefined;
}

type ChildLoader = 'hook' | 'ts-node';

const USAGE = `Usage: node -r ts-node/register/transpile-only bench/serving/run.ts [options]
  --duration S      seconds measured per target and payload (default 10)
  --warmup S        warm-up seconds before each measurement (default 2)
  --quick           smoke run: --duration 3 --warmup 1
  --connections N   concurrent connections (default 32)
  --protocols LIST  v1,v2,v2-binary (default v1,v2; v2-binary = KServe V2 binary tensor data)
  --rows LIST       rows per request (default 1,32)
  --targets LIST    default: raw,bare,argus-batching,argus-no-batching,argus-batching-log-off,
                    argus-trace-always-log-on,argus-trace-ratio10-log-on; opt-in:
                    argus-batching-log-no-inputs, argus-trace-always-log-off,
                    argus-trace-always-log-clickhouse, argus-trace-ratio10-log-clickhouse
                    (these two start a clickhouse-server)
  --rounds N        repeat the whole sequence N times and keep the median run (default 1)
  --out FILE        results JSON (default bench/results/serving.json)
  --cpu-prof DIR    run every server child with --cpu-prof, profiles written to DIR
  --child-loader L  how server children load TypeScript: hook (default, bench/serving/ts-hook.cjs)
                    or ts-node (loads repl/domain, which slows every EventEmitter)
  --argus-env K=V   extra environment for every Argus target (repeatable), for experiments,
                    e.g. --argus-env ARGUS_MAX_QUEUE_DELAY_US=0
  --alt-root DIR    also run target argus-alt: Argus (batching on, logging off) from another
                    checkout DIR, to compare a change against this tree in the same run`;

function parseSettings(argv: string[]): Settings {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      quick: { type: 'boolean', default: false },
      connections: { type: 'string' },
      protocols: { type: 'string' },
      rows: { type: 'string' },
      targets: { type: 'string' },
      rounds: { type: 'string' },
      out: { type: 'string' },
      'cpu-prof': { type: 'string' },
      'child-loader': { type: 'string' },
      'argus-env': { type: 'string', multiple: true },
      'alt-root': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const num = (raw: string | undefined, def: number, name: string, min: number): number => {
    if (raw === undefined) return def;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number >= ${min}`);
    return n;
  };
  const list = (raw: string | undefined, def: string[]): string[] =>
    raw === undefined
      ? def
      : raw
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
  const protocols = list(values.protocols, ['v1', 'v2']);
  for (const p of protocols) {
    if (!PROTOCOLS.includes(p as Protocol)) throw new Error(`unknown protocol ${p}`);
  }
  const rows = list(values.rows, ['1', '32']).map((r) => num(r, 1, 'rows', 1));
  const wired = predictionLogWired();
  const defaultTargets = ['raw', 'bare', 'argus-batching', 'argus-no-batching'];
  if (wired) defaultTargets.push('argus-batching-log-off');
  defaultTargets.push('argus-trace-always-log-on', 'argus-trace-ratio10-log-on');
  if (values['alt-root']) defaultTargets.push('argus-alt');
  return {
    durationSec: num(values.duration, values.quick ? 3 : 10, 'duration', 1),
    warmupSec: num(values.warmup, values.quick ? 1 : 2, 'warmup', 0),
    connections: Math.round(num(values.connections, 32, 'connections', 1)),
    protocols: protocols as Protocol[],
    rows: rows.map(Math.round),
    targets: list(values.targets, defaultTargets),
    rounds: Math.round(num(values.rounds, 1, 'rounds', 1)),
    out: resolve(values.out ?? join(ROOT, 'bench', 'results', 'serving.json')),
    cpuProfDir: values['cpu-prof'] ? resolve(values['cpu-prof']) : undefined,
    childLoader: childLoader(values['child-loader']),
    altRoot: values['alt-root'] ? resolve(values['alt-root']) : undefined,
    argusEnv: Object.fromEntries(
      (values['argus-env'] ?? []).map((kv) => {
        const eq = kv.indexOf('=');
        if (eq <= 0) throw new Error(`--argus-env wants KEY=VALUE, got '${kv}'`);
        return [kv.slice(0, eq), kv.slice(eq + 1)];
      }),
    ),
  };
}

function childLoader(raw: string | undefined): ChildLoader {
  if (raw === undefined || raw === 'hook') return 'hook';
  if (raw === 'ts-node') return 'ts-node';
  throw new Error('--child-loader must be hook or ts-node');
}

/** Whether the prediction-log pipeline is part of the app (then logging on/off is worth a line). */
function predictionLogWired(): boolean {
  const appModule = readFileSync(join(ROOT, 'src', 'app', 'app.module.ts'), 'utf8');
  return /\bPredictionsModule\b/.test(appModule);
}

// ---------------------------------------------------------------------------------------------
// Observability targets (issue 4)

const ALWAYS_ON = { sampler: 'always_on' };
const RATIO_10 = { sampler: 'parentbased_traceidratio', samplerArg: '0.1' };

/**
 * Argus with batching on and the observability features on together: tracing (preloaded as
 * `argus serve` does, OTLP/HTTP protobuf to the stub collector), metrics (always on), and the
 * prediction log (DuckDB under ARGUS_HOME by default, full inputs; or ClickHouse).
 */
function observabilitySpecs(): TargetSpec[] {
  const script = join(ROOT, 'bench', 'serving', 'argus-server.ts');
  const spec = (
    id: string,
    description: string,
    tracing: TargetSpec['tracing'],
    log: 'duckdb' | 'clickhouse' | 'off',
  ): TargetSpec => ({
    id,
    kind: 'argus',
    description,
    script,
    env: { PORT: '0', ...(log === 'off' ? { ARGUS_LOG_PREDICTIONS: 'false' } : {}) },
    tracing,
    clickhouse: log === 'clickhouse',
    issue: log === 'off' ? undefined : 4,
  });
  return [
    spec(
      'argus-trace-always-log-on',
      'batching on, tracing always_on, prediction logging on (DuckDB, full inputs)',
      ALWAYS_ON,
      'duckdb',
    ),
    spec(
      'argus-trace-ratio10-log-on',
      'batching on, tracing parentbased_traceidratio 0.1, prediction logging on (DuckDB, full inputs)',
      RATIO_10,
      'duckdb',
    ),
    spec(
      'argus-trace-always-log-off',
      'batching on, tracing always_on, prediction logging off: what tracing alone costs',
      ALWAYS_ON,
      'off',
    ),
    spec(
      'argus-trace-always-log-clickhouse',
      'batching on, tracing always_on, prediction logging on (ClickHouse started by the run)',
      ALWAYS_ON,
      'clickhouse',
    ),
    spec(
      'argus-trace-ratio10-log-clickhouse',
      'batching on, tracing parentbased_traceidratio 0.1, prediction logging on (ClickHouse)',
      RATIO_10,
      'clickhouse',
    ),
  ];
}

/** The OpenTelemetry environment of a traced target: what an operator sets for `argus serve`. */
function tracingEnv(tracing: NonNullable<TargetSpec['tracing']>, collectorUrl: string) {
  return {
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl,
    OTEL_TRACES_SAMPLER: tracing.sampler,
    ...(tracing.samplerArg ? { OTEL_TRACES_SAMPLER_ARG: tracing.samplerArg } : {}),
    OTEL_SERVICE_NAME: 'argus-bench',
  };
}

// ---------------------------------------------------------------------------------------------
// Child processes

const children = new Set<ChildProcess>();

interface RunningChild {
  proc: ChildProcess;
  ready: ReadyMessage;
  stats(): Promise<StatsMessage>;
  stop(): Promise<void>;
}

/** The environment a server child gets: the parent's, minus anything that would configure it. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(ARGUS_|CLICKHOUSE_|OTEL_|BARE_)/.test(k) || k === 'PORT') continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

async function startChild(
  spec: TargetSpec,
  cpuProfDir: string | undefined,
  childLoader: ChildLoader,
): Promise<RunningChild> {
  // Children load TypeScript through bench/serving/ts-hook.cjs (no `domain`, no source maps:
  // production runs from dist/); `--child-loader ts-node` shows what ts-node itself costs.
  const execArgv =
    childLoader === 'ts-node'
      ? ['-r', 'ts-node/register/transpile-only']
      : ['-r', join(spec.root ?? ROOT, 'bench', 'serving', 'ts-hook.cjs')];
  // After the TypeScript loader, before anything else: OpenTelemetry must hook http and Fastify
  // before they load, as `bin/argus.js serve` arranges with dist/telemetry/register-tracing.js.
  if (spec.tracing)
    execArgv.push('-r', join(spec.root ?? ROOT, 'src', 'telemetry', 'register-tracing.ts'));
  if (cpuProfDir) {
    mkdirSync(cpuProfDir, { recursive: true });
    execArgv.push(
      '--cpu-prof',
      `--cpu-prof-dir=${cpuProfDir}`,
      `--cpu-prof-name=${spec.id}-${Date.now()}.cpuprofile`,
    );
  }
  const proc = fork(spec.script, [], {
    cwd: spec.root ?? ROOT,
    execArgv,
    env: childEnv(spec.env),
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  children.add(proc);
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8000);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const exited = new Promise<void>((res) => proc.once('exit', () => res()));
  void exited.then(() => children.delete(proc));

  const ready = await new Promise<ReadyMessage>((res, rej) => {
    const timer = setTimeout(
      () => rej(new Error(`${spec.id} did not start in 120 s:\n${output}`)),
      120_000,
    );
    const onMessage = (m: ChildMessage) => {
      if (m.type === 'ready') {
        clearTimeout(timer);
        proc.off('message', onMessage);
        res(m);
      } else if (m.type === 'failed') {
        clearTimeout(timer);
        rej(new Error(`${spec.id} failed to start: ${m.error}`));
      }
    };
    proc.on('message', onMessage);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`${spec.id} exited with code ${code} before listening:\n${output}`));
    });
  });

  const stats = () =>
    new Promise<StatsMessage>((res, rej) => {
      const timer = setTimeout(
        () =>
          rej(new Error(`${spec.id} did not answer a stats request in 60 s (event loop stuck?)`)),
        60_000,
      );
      const onMessage = (m: ChildMessage) => {
        if (m.type !== 'stats') return;
        clearTimeout(timer);
        proc.off('message', onMessage);
        res(m);
      };
      proc.on('message', onMessage);
      proc.send({ type: 'stats' });
    });

  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    if (proc.connected) proc.send({ type: 'shutdown' });
    // Argus flushes the prediction log on shutdown; give it time before the hard stop.
    const killer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(killer);
  };
  return { proc, ready, stats, stop };
}

function killAllChildren(): void {
  for (const proc of children) {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  }
}

// ---------------------------------------------------------------------------------------------
// Measurements

async function measureRaw(
  session: ort.InferenceSession,
  inputName: string,
  pool: number[][],
  rows: number,
  settings: Settings,
  round: number,
): Promise<RunResult> {
  const data = new Float32Array(rows * FEATURES);
  for (let r = 0; r < rows; r++) data.set(pool[r % pool.length], r * FEATURES);
  const loop = async (seconds: number, record: number[] | undefined) => {
    const end = performance.now() + seconds * 1000;
    let calls = 0;
    while (performance.now() < end) {
      const t0 = performance.now();
      await session.run({ [inputName]: new ort.Tensor('float32', data, [rows, FEATURES]) });
      record?.push(performance.now() - t0);
      calls++;
    }
    return calls;
  };
  await loop(settings.warmupSec, undefined);
  const latencies: number[] = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const calls = await loop(settings.durationSec, latencies);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return {
    round,
    target: 'raw',
    kind: 'raw',
    protocol: 'in-process',
    rowsPerRequest: rows,
    connections: 1,
    seconds,
    requests: calls,
    reqPerSec: calls / seconds,
    rowsPerSec: (calls * rows) / seconds,
    latency: summarize(latencies),
    errors: 0,
    timeouts: 0,
    non2xx: 0,
    statusCodes: {},
    bytesPerRequest: 0,
    loadGeneratorCpuPercent: (cpu.user + cpu.system) / 1e4 / seconds,
  };
}

interface LoadOutcome {
  seconds: number;
  ok: number;
  latencies: number[];
  result: autocannon.Result;
  loadGeneratorCpuPercent: number;
}

async function drive(
  url: string,
  payload: Payload,
  seconds: number,
  connections: number,
): Promise<LoadOutcome> {
  const latencies: number[] = [];
  let ok = 0;
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
  const cpu0 = process.cpuUsage();
  instance.on('start', () => {
    started = performance.now();
  });
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    if (statusCode >= 200 && statusCode < 300) {
      ok++;
      latencies.push(responseTime);
    }
  });
  const result = await instance;
  const elapsed = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return {
    seconds: elapsed,
    ok,
    latencies,
    result,
    loadGeneratorCpuPercent: (cpu.user + cpu.system) / 1e4 / elapsed,
  };
}

async function scrapeBatching(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const names = [
    'argus_batch_size_rows_sum',
    'argus_batch_size_rows_count',
    'argus_batch_requests_sum',
    'argus_queue_wait_seconds_sum',
    'argus_queue_wait_seconds_count',
    'argus_inference_duration_seconds_sum',
    'argus_inference_duration_seconds_count',
  ];
  return Object.fromEntries(names.map((n) => [n, promSum(text, n)]));
}

function batchDelta(before: Record<string, number>, after: Record<string, number>): BatchStats {
  const d = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
  const batches = d('argus_batch_size_rows_count');
  return {
    batches,
    meanBatchRows: d('argus_batch_size_rows_sum') / batches,
    meanRequestsPerBatch: d('argus_batch_requests_sum') / batches,
    meanQueueWaitMs:
      (d('argus_queue_wait_seconds_sum') / d('argus_queue_wait_seconds_count')) * 1000,
    meanInferenceMs:
      (d('argus_inference_duration_seconds_sum') / d('argus_inference_duration_seconds_count')) *
      1000,
  };
}

/** One request per payload, checked for shape and against labels computed in-process. */
async function sanityCheck(
  target: string,
  url: string,
  payload: Payload,
  expectedLabels: string[],
): Promise<void> {
  const res = await fetch(`${url}${payload.path}`, {
    method: 'POST',
    headers: payload.headers,
    body: payload.bodies[0],
  });
  const text = await res.text();
  if (res.status !== 200)
    throw new Error(`${target} ${payload.path}: HTTP ${res.status}: ${text.slice(0, 300)}`);
  const body = JSON.parse(text) as {
    predictions?: Array<{ label?: unknown; probabilities?: unknown[] }>;
    outputs?: Array<{ name?: unknown; shape?: unknown[]; data?: unknown[] }>;
  };
  let labels: string[];
  if (payload.protocol === 'v1') {
    const p = body.predictions ?? [];
    if (p.length !== payload.rowsPerRequest || p.some((r) => r.probabilities?.length !== 10)) {
      throw new Error(`${target} v1: unexpected response ${text.slice(0, 300)}`);
    }
    labels = p.map((r) => String(r.label));
  } else {
    const label = body.outputs?.find((o) => o.name === 'label');
    const probs = body.outputs?.find((o) => o.name === 'probabilities');
    if (!label?.data || probs?.data?.length !== payload.rowsPerRequest * 10) {
      throw new Error(`${target} v2: unexpected response ${text.slice(0, 300)}`);
    }
    labels = label.data.map(String);
  }
  const expected = expectedLabels.slice(0, payload.rowsPerRequest);
  if (labels.join(',') !== expected.join(',')) {
    throw new Error(
      `${target} ${payload.protocol}: labels ${labels.join(',')} ≠ in-process ${expected.join(',')}`,
    );
  }
}

async function measureServer(
  spec: TargetSpec,
  child: RunningChild,
  payload: Payload,
  settings: Settings,
  round: number,
  collector: StubCollector | undefined,
): Promise<RunResult> {
  const url = child.ready.url;
  if (settings.warmupSec > 0) await drive(url, payload, settings.warmupSec, settings.connections);
  const metricsBefore = spec.kind === 'argus' ? await scrapeBatching(url) : undefined;
  const s0 = await child.stats();
  const c0: CollectorCounts | undefined = spec.tracing ? collector?.counts() : undefined;
  const load = await drive(url, payload, settings.durationSec, settings.connections);
  const c1: CollectorCounts | undefined = spec.tracing ? collector?.counts() : undefined;
  const s1 = await child.stats();
  const metricsAfter = spec.kind === 'argus' ? await scrapeBatching(url) : undefined;
  const rows = load.ok * payload.rowsPerRequest;
  const cpuMs =
    (s1.cpuUserMicros + s1.cpuSystemMicros - s0.cpuUserMicros - s0.cpuSystemMicros) / 1000;
  const active = s1.eluActiveMs - s0.eluActiveMs;
  const idle = s1.eluIdleMs - s0.eluIdleMs;
  const statusCodes = Object.fromEntries(
    Object.entries(load.result.statusCodeStats).map(([code, v]) => [code, v.count]),
  );
  return {
    round,
    target: spec.id,
    kind: spec.kind,
    protocol: payload.protocol,
    rowsPerRequest: payload.rowsPerRequest,
    connections: settings.connections,
    seconds: load.seconds,
    requests: load.ok,
    reqPerSec: load.ok / load.seconds,
    rowsPerSec: rows / load.seconds,
    latency: summarize(load.latencies),
    errors: load.result.errors,
    timeouts: load.result.timeouts,
    non2xx: load.result.non2xx,
    statusCodes,
    bytesPerRequest: payload.bytesPerBody,
    loadGeneratorCpuPercent: load.loadGeneratorCpuPercent,
    server: {
      cpuMsPer1kRows: rows > 0 ? (cpuMs / rows) * 1000 : NaN,
      cpuPercent: cpuMs / 10 / load.seconds,
      eventLoopUtilization: active / (active + idle),
      rssMB: s1.rssBytes / 2 ** 20,
    },
    ...(metricsBefore && metricsAfter ? { batching: batchDelta(metricsBefore, metricsAfter) } : {}),
    ...(spec.issue && payload.rowsPerRequest === 1 ? { issue: spec.issue } : {}),
    ...(c0 && c1
      ? {
          export: {
            requestsPerSec: (c1.exports - c0.exports) / load.seconds,
            kBytesPerSec: (c1.bytes - c0.bytes) / 1024 / load.seconds,
            bytesPerRow: rows > 0 ? (c1.bytes - c0.bytes) / rows : NaN,
          },
        }
      : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Report

function fmt(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return '-';
  return n.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** With several rounds, the run with the median rows/s stands for its key. */
function representative(runs: RunResult[]): RunResult[] {
  const groups = new Map<string, RunResult[]>();
  for (const r of runs) {
    const key = `${r.target}|${r.protocol}|${r.rowsPerRequest}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.values()].map((group) => {
    const m = median(group.map((r) => r.rowsPerSec));
    return group.reduce((best, r) =>
      Math.abs(r.rowsPerSec - m) < Math.abs(best.rowsPerSec - m) ? r : best,
    );
  });
}

function compare(runs: RunResult[]): Comparison[] {
  const out: Comparison[] = [];
  for (const r of runs) {
    if (r.kind !== 'argus' || r.protocol === 'in-process') continue;
    const bare = runs.find(
      (b) =>
        b.kind === 'bare' && b.protocol === r.protocol && b.rowsPerRequest === r.rowsPerRequest,
    );
    const raw = runs.find((b) => b.kind === 'raw' && b.rowsPerRequest === r.rowsPerRequest);
    if (!bare) continue;
    const rowsPerSecVsBare = r.rowsPerSec / bare.rowsPerSec;
    const p99VsBare = r.latency.p99Ms / bare.latency.p99Ms;
    out.push({
      target: r.target,
      protocol: r.protocol,
      rowsPerRequest: r.rowsPerRequest,
      rowsPerSecVsBare,
      p99VsBare,
      rowsPerSecVsRaw: raw ? r.rowsPerSec / raw.rowsPerSec : NaN,
      cpuPerRowVsBare: (r.server?.cpuMsPer1kRows ?? NaN) / (bare.server?.cpuMsPer1kRows ?? NaN),
      issue: r.issue,
      pass: rowsPerSecVsBare >= TARGET.minRowsRatio && p99VsBare <= TARGET.maxP99Ratio,
    });
  }
  return out;
}

function report(runs: RunResult[], comparisons: Comparison[]): string {
  const rawRows = new Map(
    runs.filter((r) => r.kind === 'raw').map((r) => [r.rowsPerRequest, r.rowsPerSec]),
  );
  const rows = runs.map((r) => {
    const c = comparisons.find(
      (x) =>
        x.target === r.target && x.protocol === r.protocol && x.rowsPerRequest === r.rowsPerRequest,
    );
    const raw = rawRows.get(r.rowsPerRequest);
    return [
      r.target,
      r.protocol,
      String(r.rowsPerRequest),
      fmt(r.reqPerSec),
      fmt(r.rowsPerSec),
      fmt(r.latency.p50Ms, 2),
      fmt(r.latency.p99Ms, 2),
      `${r.errors}/${r.non2xx}`,
      c ? `${fmt(c.rowsPerSecVsBare, 2)}x` : '',
      c ? `${fmt(c.p99VsBare, 2)}x` : '',
      raw && r.kind !== 'raw' ? `${fmt(r.rowsPerSec / raw, 2)}x` : '',
      r.batching ? fmt(r.batching.meanBatchRows, 1) : '',
      r.server ? fmt(r.server.cpuMsPer1kRows, 1) : '',
      c ? `${fmt(c.cpuPerRowVsBare, 2)}x` : '',
      r.server ? fmt(r.server.cpuPercent) : '',
      r.kind === 'raw' ? '' : fmt(r.loadGeneratorCpuPercent),
      r.export ? fmt(r.export.bytesPerRow) : '',
    ];
  });
  const main = table(
    [
      'target',
      'proto',
      'rows/req',
      'req/s',
      'rows/s',
      'p50 ms',
      'p99 ms',
      'err/non2xx',
      'rows/s vs bare',
      'p99 vs bare',
      'vs raw',
      'batch rows',
      'srv CPU ms/1k rows',
      'CPU/row vs bare',
      'srv CPU %',
      'loadgen CPU %',
      'OTLP B/row',
    ],
    rows,
  );
  const verdicts = comparisons.map(
    (c) =>
      `${c.pass ? 'PASS' : 'MISS'}  ${c.issue ? `[issue ${c.issue} target]` : '[info]          '}  ${c.target} ${c.protocol} ${c.rowsPerRequest}-row: rows/s ${fmt(c.rowsPerSecVsBare, 2)}x bare (need >= ${fmt(TARGET.minRowsRatio, 1)}x), p99 ${fmt(c.p99VsBare, 2)}x bare (need <= ${fmt(TARGET.maxP99Ratio, 1)}x)`,
  );
  return [
    main,
    '',
    `Target (issue 2): Argus with batching on >= ${TARGET.minRowsRatio.toFixed(1)}x the bare server's rows/s for single-row requests, p99 <= ${TARGET.maxP99Ratio.toFixed(1)}x.`,
    'Issue 4: the same target with tracing (always_on, parentbased 10 %), metrics and prediction logging on.',
    'A server that is saturated shows srv CPU % near 100 or more; much lower means other processes took the CPU during that line: repeat it, or read CPU/row vs bare.',
    ...verdicts,
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const settings = parseSettings(process.argv.slice(2));
  const startedAt = new Date().toISOString();
  const loadBefore = loadavg();
  const log = (msg: string) => process.stderr.write(`[bench:serving] ${msg}\n`);
  log(
    `${cpus().length} CPUs, load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')}; ` +
      `${settings.durationSec}s per measurement after ${settings.warmupSec}s warm-up, ${settings.connections} connections`,
  );
  if (loadBefore[0] > 1)
    log('warning: the machine is busy; absolute figures will be low, read the ratios');

  const work = mkdtempSync(join(tmpdir(), 'argus-bench-serving-'));
  let collector: StubCollector | undefined;
  let clickhouse: ClickHouseServer | undefined;
  try {
    // The model, once: a file for the bare server, a registry (champion) for Argus.
    const model = mnistSizedClassifier();
    const modelPath = join(work, 'model.onnx');
    writeFileSync(modelPath, model);
    // Each Argus target gets its own ARGUS_HOME (registry, DuckDB prediction store, spool), so
    // no target starts with another's data.
    const argusHome = async (id: string): Promise<string> => {
      const home = join(work, `home-${id}`);
      const registry = new ModelRegistry({ home }, new OnnxRuntime());
      await registry.register(
        MODEL_NAME,
        model,
        { task: 'classification', class_names: CLASS_NAMES },
        { alias: 'champion' },
      );
      return home;
    };

    const session = await ort.InferenceSession.create(model, BARE_SESSION_OPTIONS);
    const inputName = session.inputNames[0];
    const pool = mnistRows(256);
    const maxRows = Math.max(...settings.rows);
    const refInput = new Float32Array(maxRows * FEATURES);
    for (let r = 0; r < maxRows; r++) refInput.set(pool[r], r * FEATURES);
    const refOut = await session.run({
      [inputName]: new ort.Tensor('float32', refInput, [maxRows, FEATURES]),
    });
    const expectedLabels = Array.from(
      refOut.label.data as BigInt64Array,
      (v) => CLASS_NAMES[Number(v)],
    );

    const payloads: Payload[] = [];
    for (const protocol of settings.protocols) {
      for (const rows of settings.rows)
        payloads.push(buildPayload(protocol, MODEL_NAME, inputName, rows, pool));
    }

    const specs: TargetSpec[] = [
      {
        id: 'bare',
        kind: 'bare',
        description:
          'bare Fastify + onnxruntime-node, no batching (bench/baselines/bare-fastify-server.ts)',
        script: join(ROOT, 'bench', 'baselines', 'bare-fastify-server.ts'),
        env: {
          BARE_MODEL: modelPath,
          BARE_MODEL_NAME: MODEL_NAME,
          BARE_CLASS_NAMES: CLASS_NAMES.join(','),
          PORT: '0',
        },
      },
      {
        id: 'argus-batching',
        kind: 'argus',
        description:
          'Argus, default config: dynamic batching on, prediction logging at its default (ARGUS_LOG_PREDICTIONS unset)',
        script: join(ROOT, 'bench', 'serving', 'argus-server.ts'),
        env: { PORT: '0' },
        issue: 2,
      },
      {
        id: 'argus-no-batching',
        kind: 'argus',
        description:
          'Argus with ARGUS_MAX_BATCH_SIZE=1 (no merging), prediction logging at its default (unset)',
        script: join(ROOT, 'bench', 'serving', 'argus-server.ts'),
        env: { PORT: '0', ARGUS_MAX_BATCH_SIZE: '1' },
      },
      {
        id: 'argus-batching-log-off',
        kind: 'argus',
        description: 'Argus with batching on and ARGUS_LOG_PREDICTIONS=false',
        script: join(ROOT, 'bench', 'serving', 'argus-server.ts'),
        env: { PORT: '0', ARGUS_LOG_PREDICTIONS: 'false' },
        issue: 2,
      },
      {
        id: 'argus-alt',
        kind: 'argus',
        description: `Argus from ${settings.altRoot ?? '(--alt-root)'}: batching on, ARGUS_LOG_PREDICTIONS=false`,
        script: join(settings.altRoot ?? ROOT, 'bench', 'serving', 'argus-server.ts'),
        env: { PORT: '0', ARGUS_LOG_PREDICTIONS: 'false' },
        root: settings.altRoot,
      },
      ...observabilitySpecs(),
      {
        // Not in the default set: isolates what logging the 784 input values per row costs.
        id: 'argus-batching-log-no-inputs',
        kind: 'argus',
        description: 'Argus with batching on, prediction logging on, ARGUS_LOG_INPUTS=none',
        script: join(ROOT, 'bench', 'serving', 'argus-server.ts'),
        env: { PORT: '0', ARGUS_LOG_INPUTS: 'none' },
      },
    ];
    for (const t of settings.targets) {
      if (t !== 'raw' && !specs.some((s) => s.id === t)) throw new Error(`unknown target '${t}'`);
    }

    const runs: RunResult[] = [];
    const serverDetails: Record<string, Record<string, unknown>> = {};
    const failures: Array<{ round: number; target: string; error: string }> = [];
    // ClickHouse targets last: clickhouse-server runs only while they are measured, so its
    // background work does not tax the other targets.
    const selected = [
      ...specs.filter((spec) => settings.targets.includes(spec.id) && !spec.clickhouse),
      ...specs.filter((spec) => settings.targets.includes(spec.id) && spec.clickhouse),
    ];
    if (selected.some((spec) => spec.tracing)) {
      collector = await startStubCollector();
      log(`stub OTLP collector on ${collector.url}`);
    }
    const startClickHouse = async (round: number): Promise<ClickHouseServer | undefined> => {
      try {
        const server = await ClickHouseServer.start();
        log(`clickhouse-server on ${server.url}`);
        return server;
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        log(`clickhouse-server did not start; its targets are skipped: ${error}`);
        for (const spec of selected.filter((t) => t.clickhouse))
          failures.push({ round, target: spec.id, error });
        return undefined;
      }
    };
    for (let round = 1; round <= settings.rounds; round++) {
      if (settings.targets.includes('raw')) {
        for (const rows of settings.rows) {
          log(`round ${round}: raw session.run, ${rows} row(s)`);
          runs.push(await measureRaw(session, inputName, pool, rows, settings, round));
        }
      }
      let clickhouseTried = false;
      for (const spec of selected) {
        if (spec.clickhouse && !clickhouseTried) {
          clickhouseTried = true;
          clickhouse = await startClickHouse(round);
        }
        if (spec.clickhouse && !clickhouse) continue;
        log(`round ${round}: starting ${spec.id}`);
        let child: RunningChild;
        try {
          if (spec.kind === 'argus') {
            Object.assign(spec.env, settings.argusEnv);
            spec.env.ARGUS_HOME = await argusHome(`${spec.id}-${round}`);
          }
          if (spec.tracing && collector)
            Object.assign(spec.env, tracingEnv(spec.tracing, collector.url));
          if (spec.clickhouse && clickhouse) {
            spec.env.CLICKHOUSE_URL = clickhouse.url;
            spec.env.CLICKHOUSE_DATABASE = `bench_${spec.id}_${round}`.replace(/-/g, '_');
          }
          child = await startChild(spec, settings.cpuProfDir, settings.childLoader);
        } catch (err) {
          // One broken target must not hide the others' figures: record it and go on.
          const error = err instanceof Error ? err.message : String(err);
          log(`${spec.id} did not start: ${error}`);
          failures.push({ round, target: spec.id, error });
          continue;
        }
        try {
          serverDetails[spec.id] = {
            description: spec.description,
            env: spec.env,
            ...child.ready.details,
          };
          for (const payload of payloads) {
            await sanityCheck(spec.id, child.ready.url, payload, expectedLabels);
          }
          for (const payload of payloads) {
            log(`round ${round}: ${spec.id} ${payload.protocol} ${payload.rowsPerRequest}-row`);
            runs.push(await measureServer(spec, child, payload, settings, round, collector));
          }
        } catch (err) {
          const error = err instanceof Error ? err.message : String(err);
          log(`${spec.id}: ${error}`);
          failures.push({ round, target: spec.id, error });
        } finally {
          await child.stop();
        }
      }
      await clickhouse?.dispose();
      clickhouse = undefined;
    }
    await session.release();

    const chosen = representative(runs);
    const comparisons = compare(chosen);
    process.stdout.write(`\n${report(chosen, comparisons)}\n`);
    for (const f of failures) {
      process.stdout.write(`FAILED  ${f.target} (round ${f.round}): ${f.error.split('\n')[0]}\n`);
    }
    const exported = collector?.counts();
    if (exported && exported.rejected > 0) {
      process.stdout.write(
        `WARNING  the stub OTLP collector refused ${exported.rejected} requests (wrong path or method)\n`,
      );
    }
    const loadAfter = loadavg();
    process.stdout.write(
      `\nLoad average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(2)).join(' ')}. ` +
        `Server and load generator share ${cpus().length} cores; ratios are the figures to read.\n`,
    );

    mkdirSync(dirname(settings.out), { recursive: true });
    writeFileSync(
      settings.out,
      JSON.stringify(
        {
          benchmark: 'serving',
          startedAt,
          finishedAt: new Date().toISOString(),
          machine: {
            cpus: cpus().length,
            cpuModel: cpus()[0]?.model,
            node: process.version,
            onnxruntimeNode: ort.env.versions.node ?? ort.env.versions.common,
            loadAverageBefore: loadBefore,
            loadAverageAfter: loadAfter,
          },
          settings: { ...settings, predictionLogWired: predictionLogWired() },
          model: {
            name: MODEL_NAME,
            architecture: '784 -> 128 -> 10 MLP (Gemm, Relu, Gemm, Softmax, ArgMax)',
            sessionOptions: BARE_SESSION_OPTIONS,
          },
          payloads: payloads.map((p) => ({
            protocol: p.protocol,
            rowsPerRequest: p.rowsPerRequest,
            path: p.path,
            bytesPerBody: p.bytesPerBody,
          })),
          servers: serverDetails,
          otlpStubCollector: exported,
          target: {
            ...TARGET,
            rule: 'argus-batching single-row: rows/s >= 1.0x bare and p99 <= 1.2x bare',
          },
          results: chosen,
          comparisons,
          failures,
          allRuns: runs,
        },
        null,
        2,
      ),
    );
    log(`wrote ${settings.out}`);
    // A MISS is a finding, not a failure; a target that could not be measured is.
    if (failures.length > 0) process.exitCode = 1;
  } finally {
    killAllChildren();
    await collector?.close();
    await clickhouse?.dispose();
    rmSync(work, { recursive: true, force: true });
  }
}

process.on('SIGINT', () => {
  killAllChildren();
  process.exit(130);
});
process.on('exit', killAllChildren);

main().catch((err: unknown) => {
  process.stderr.write(
    `[bench:serving] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  killAllChildren();
  process.exitCode = 1;
});
