import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../src/config/config';
import { PredictionWriter } from '../../src/predictions/prediction-writer';
import { PREDICTION_COLUMNS } from '../../src/store/clickhouse-queries';
import { ClickHouseStore } from '../../src/store/clickhouse-store';
import { predictionsRowBinary } from '../../src/store/clickhouse-rowbinary';
import { predictionsTsv } from '../../src/store/clickhouse-tsv';
import { ClickHouseServer } from '../../test/harness/clickhouse-server';
import { procStatCpuMs } from '../serving/child';
import {
  clickhouseQuery,
  LATENCY_WORKLOADS,
  LatencyComparison,
  LatencyOptions,
  LatencyWorkload,
  runLatencyComparison,
} from './latency';
import { RecordFactory } from './rows';

/**
 * The prediction-log benchmark (issue 3, DESIGN.md §7). One run, against one private
 * clickhouse-server started here:
 *
 *   (i)   bulk     ClickHouse's own limit: N prediction rows (8 features, 10 scores) as ONE
 *                  TabSeparated body piped to the HTTP interface with `curl --data-binary @file`.
 *   (ii)  writer   PredictionWriter.append → queue → batches → ClickHouseStore, sustained for
 *                  --duration seconds (default 30): rows/s, ratio to (i), RSS, loss check.
 *   (iii) latency  Argus (child process), single-row v1 requests of the row shape (8
 *                  features, 10 scores) and of MNIST digits (784 pixels): p99 with logging on
 *                  vs off, closed loop (autocannon, 32 connections: at saturation, so it
 *                  measures lost throughput as much as latency) and open loop at fixed
 *                  shares of the closed-loop capacity (bench/logging/open-loop.ts: what the log
 *                  adds to a request at a given load, the target's reading).
 *
 * Prints a table with the ratios against the targets (writer ≥ 50 % of bulk; p99 added
 * ≤ 5 %) and writes bench/results/logging.json.
 *
 *   node -r ts-node/register/transpile-only bench/logging/run.ts [--duration 30] [--quick]
 */

const ROOT = resolve(__dirname, '..', '..');
const TARGET = { minWriterRatio: 0.5, maxP99Added: 0.05 };

type LatencyMode = 'colocated' | 'isolated' | 'niced' | 'duckdb';
const LATENCY_MODE_LABELS: Record<LatencyMode, { heading: string; key: string }> = {
  colocated: { heading: '(iii) clickhouse-server co-located', key: 'p99Added' },
  isolated: {
    heading: '(iii-b) clickhouse-server on its own core',
    key: 'p99AddedClickHouseIsolated',
  },
  niced: { heading: '(iii-c) clickhouse-server at nice 19', key: 'p99AddedClickHouseNiced' },
  duckdb: { heading: '(iii-d) logging to DuckDB (default store)', key: 'p99AddedDuckDb' },
};

const HELP = `usage: node -r ts-node/register/transpile-only bench/logging/run.ts [options]

  --rows N              rows of the bulk-insert baseline (default 1000000)
  --duration S          seconds of sustained writer load (default 30, at least 30 for the record)
  --latency-duration S  seconds per autocannon measurement (default 10)
  --connections N       autocannon connections (default 32)
  --flush-rows N        writer batch size (ARGUS_LOG_FLUSH_ROWS; default: the writer's default)
  --rounds N            (iii): runs per side, alternating ABBA (default 3; --quick 2)
  --cpu-prof DIR        (iii): V8 CPU profile of each Argus child into DIR, one per side and
                        comparison (logging-on.cpuprofile, logging-off-duckdb.cpuprofile, ...)
  --open-loop LIST      (iii): after the closed-loop runs, drive both sides at fixed request
                        rates (open loop, latency from each request's scheduled send time) at
                        these shares of the logging-off side's closed-loop req/s
                        (comma-separated, default 0.2,0.35; none to skip). Argus
                        answers single requests at a fixed rate without the batching
                        a closed loop gives it: 0.5 already saturated it here
  --no-isolate          skip (iii-b), the latency comparison with clickhouse-server pinned to its
                        own core (taskset) and Argus + the load generator to the others
  --latency-modes LIST  which (iii) comparisons, comma-separated (default all):
                          colocated  clickhouse-server shares both cores at normal priority
                          isolated   (iii-b) clickhouse-server pinned to its own core
                          niced      (iii-c) clickhouse-server at nice 19 (renice, all threads):
                                     Argus's own added latency, ClickHouse's CPU out of the way
                          duckdb     (iii-d) logging to the default embedded DuckDB store
  --latency-rows LIST   what the (iii) requests carry, comma-separated (default tabular,mnist):
                          tabular  the issue's row shape, as in (i) and (ii): 8 features in,
                                   10 scores out
                          mnist    784 pixels of real MNIST digits in, 10 scores out: every
                                   logged row carries ~100x the input bytes
  --skip-latency        run (i) and (ii) only
  --only-latency        run (iii) only
  --quick               smoke run: 200k bulk rows, 8 s writer, 4 s per latency measurement
  --out FILE            results file (default bench/results/logging.json)
  --help
`;

interface BulkResult {
  rows: number;
  bytes: number;
  seconds: number;
  rowsPerSec: number;
  storedRows: number;
}

interface WriterResult {
  seconds: number;
  /** Seconds from the first append until the store acknowledged the last row. */
  totalSeconds: number;
  appended: number;
  written: number;
  rowsPerSec: number;
  /** Rows the store acknowledged during the timed window only. */
  windowRowsPerSec: number;
  flushRows: number;
  batches: number;
  meanBatchRows: number;
  spooled: number;
  dropped: number;
  writeErrors: number;
  uniqueIds: number;
  lost: number;
  /** `at5s`: once the queue has filled; from there on RSS should stay flat. */
  rssMB: {
    start: number;
    at5s: number;
    end: number;
    peak: number;
    peakAfter5s: number;
    /** Peak of each 10 s window of the run: flat memory keeps these level, a leak makes them climb. */
    windowPeaks: number[];
    samples: number[];
  };
  heapUsedMB: { start: number; end: number; peak: number };
  cpuPercent: number;
}

function windowPeaks(values: number[], at: number[], start: number, windowMs: number): number[] {
  const peaks: number[] = [];
  values.forEach((v, i) => {
    const w = Math.floor((at[i] - start) / windowMs);
    peaks[w] = Math.max(peaks[w] ?? 0, v);
  });
  return peaks.filter((p) => p !== undefined);
}

function signedPercent(fraction: number): string {
  return `${fraction >= 0 ? '+' : ''}${(fraction * 100).toFixed(1)} %`;
}

function mb(bytes: number): number {
  return Math.round((bytes / 1024 / 1024) * 10) / 10;
}

/** CPU time (user + system) of a process so far, ms (Linux; NaN elsewhere). */
function processCpuMs(pid: number | undefined): number {
  return pid === undefined ? NaN : procStatCpuMs(`/proc/${pid}/stat`);
}

/**
 * Sets the nice value of every thread of `pid` (Linux: nice is per thread, `renice -p` changes
 * only the one named). Failures (no permission to lower it again, a thread that ended) are ignored.
 */
function renice(pid: number, nice: number): void {
  let tids: string[] = [String(pid)];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    // not Linux, or the process ended
  }
  spawnSync('renice', ['-n', String(nice), '-p', ...tids], { stdio: 'ignore' });
}

/** Waits (up to 2 min) until the server runs no background merge, so measurements start alike. */
async function waitForMerges(url: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (Number(await clickhouseQuery(url, 'SELECT count() FROM system.merges')) === 0) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function migratedStore(server: ClickHouseServer, database: string): Promise<ClickHouseStore> {
  const store = new ClickHouseStore({ url: server.url, user: 'default', password: '', database });
  await store.migrate();
  return store;
}

/** (i) The same rows as one TabSeparated body, `curl --data-binary @file` to the HTTP interface. */
async function bulkInsert(
  server: ClickHouseServer,
  rows: number,
  work: string,
  format: 'TabSeparated' | 'RowBinary' = 'TabSeparated',
): Promise<BulkResult> {
  const database = format === 'TabSeparated' ? 'bench_bulk' : 'bench_bulk_rowbinary';
  const store = await migratedStore(server, database);
  await store.close();
  const factory = new RecordFactory();
  const file = join(work, `bulk.${format}`);
  // Encoded in chunks with the store's own encoders (not timed).
  const chunk = 50_000;
  writeFileSync(file, '');
  for (let done = 0; done < rows; done += chunk) {
    const batch = Array.from({ length: Math.min(chunk, rows - done) }, () => factory.next());
    writeFileSync(
      file,
      format === 'TabSeparated' ? predictionsTsv(batch) : predictionsRowBinary(batch),
      { flag: 'a' },
    );
  }
  const bytes = statSync(file).size;
  const query = `INSERT INTO ${database}.predictions (${PREDICTION_COLUMNS.join(', ')}) FORMAT ${format}`;
  const url = `${server.url}/?query=${encodeURIComponent(query)}`;
  const started = performance.now();
  await new Promise<void>((resolvePromise, reject) => {
    const curl = spawn('curl', ['-sS', '--fail-with-body', '--data-binary', `@${file}`, url], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    curl.stdout.on('data', (c: Buffer) => (output += c.toString()));
    curl.stderr.on('data', (c: Buffer) => (output += c.toString()));
    curl.once('error', reject);
    curl.once('exit', (code) =>
      code === 0 ? resolvePromise() : reject(new Error(`curl exited ${code}: ${output}`)),
    );
  });
  const seconds = (performance.now() - started) / 1000;
  rmSync(file, { force: true });
  const storedRows = Number(
    await clickhouseQuery(server.url, `SELECT count() FROM ${database}.predictions`),
  );
  return { rows, bytes, seconds, rowsPerSec: rows / seconds, storedRows };
}

/** (ii) Sustained PredictionWriter.append → ClickHouse for `seconds`. */
async function sustainedWriter(
  server: ClickHouseServer,
  seconds: number,
  flushRows: number | undefined,
  work: string,
): Promise<WriterResult> {
  const database = 'bench_writer';
  const store = await migratedStore(server, database);
  const home = join(work, 'writer-home');
  // The writer exactly as Argus configures it (PredictionWriter.fromConfig), defaults unless
  // --flush-rows is given.
  const config = loadConfig({
    ARGUS_HOME: home,
    ...(flushRows !== undefined ? { ARGUS_LOG_FLUSH_ROWS: String(flushRows) } : {}),
  });
  const writer = PredictionWriter.fromConfig(config, store, {
    logger: {
      log: (m) => process.stderr.write(`[writer] ${m}\n`),
      warn: (m) => process.stderr.write(`[writer] ${m}\n`),
      error: (m) => process.stderr.write(`[writer] ${m}\n`),
    },
  });
  await writer.start();
  const queueRows = config.predictionLog.queueRows;
  const factory = new RecordFactory();
  const appendChunk = 500;
  // Keep the queue fed but below its bound, so nothing overflows into the spool: this measures
  // queue → store, not the disk.
  const highWater = queueRows - 4 * appendChunk;

  const rss: number[] = [];
  const heap: number[] = [];
  const sampledAt: number[] = [];
  const sample = () => {
    const m = process.memoryUsage();
    rss.push(m.rss);
    heap.push(m.heapUsed);
    sampledAt.push(performance.now());
  };
  global.gc?.();
  sample();
  const sampler = setInterval(sample, 500);

  let appended = 0;
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const writtenAtStart = writer.metrics().tables.predictions.recordsWritten;
  while (performance.now() < deadline) {
    if (writer.predictions.queuedRows > highWater) {
      await new Promise((r) => setTimeout(r, 1));
      continue;
    }
    const records = new Array(appendChunk);
    for (let i = 0; i < appendChunk; i++) records[i] = factory.next();
    writer.predictions.append(records);
    appended += appendChunk;
    // Let the flushes (setImmediate) and HTTP I/O run between chunks, as between requests.
    await new Promise((r) => setImmediate(r));
  }
  const windowEnd = performance.now();
  const writtenInWindow = writer.metrics().tables.predictions.recordsWritten - writtenAtStart;
  await writer.flush();
  const ended = performance.now();
  clearInterval(sampler);
  sample();
  const cpu = process.cpuUsage(cpu0);
  const metrics = writer.metrics().tables.predictions;
  await writer.close();
  const uniqueIds = Number(
    await clickhouseQuery(server.url, `SELECT uniqExact(id) FROM ${database}.predictions`),
  );
  await store.close();
  const totalSeconds = (ended - started) / 1000;
  const rampIndex = sampledAt.findIndex((t) => t - started >= 5000);
  const ramp = rampIndex >= 0 ? rampIndex : rss.length - 1;
  const batches = metrics.batches.written + metrics.batches.replayed;
  return {
    seconds: (windowEnd - started) / 1000,
    totalSeconds,
    appended,
    written: metrics.recordsWritten,
    rowsPerSec: appended / totalSeconds,
    windowRowsPerSec: writtenInWindow / ((windowEnd - started) / 1000),
    flushRows: config.predictionLog.flushRows,
    batches,
    meanBatchRows: batches > 0 ? metrics.recordsWritten / batches : 0,
    spooled: metrics.recordsSpooled,
    dropped: metrics.recordsDropped,
    writeErrors: metrics.writeErrors,
    uniqueIds,
    lost: appended - uniqueIds,
    rssMB: {
      start: mb(rss[0]),
      at5s: mb(rss[ramp]),
      end: mb(rss[rss.length - 1]),
      peak: mb(Math.max(...rss)),
      peakAfter5s: mb(Math.max(...rss.slice(ramp))),
      windowPeaks: windowPeaks(rss, sampledAt, started, 10_000).map(mb),
      samples: rss.filter((_, i) => i % 4 === 0).map(mb),
    },
    heapUsedMB: {
      start: mb(heap[0]),
      end: mb(heap[heap.length - 1]),
      peak: mb(Math.max(...heap)),
    },
    cpuPercent: ((cpu.user + cpu.system) / 1e4 / totalSeconds) | 0,
  };
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string' },
      duration: { type: 'string' },
      'latency-duration': { type: 'string' },
      connections: { type: 'string' },
      'flush-rows': { type: 'string' },
      'skip-latency': { type: 'boolean' },
      'no-isolate': { type: 'boolean' },
      'cpu-prof': { type: 'string' },
      rounds: { type: 'string' },
      'only-latency': { type: 'boolean' },
      'latency-modes': { type: 'string' },
      'latency-rows': { type: 'string' },
      'open-loop': { type: 'string' },
      quick: { type: 'boolean' },
      out: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const quick = values.quick === true;
  const rows = Number(values.rows ?? (quick ? 200_000 : 1_000_000));
  const duration = Number(values.duration ?? (quick ? 8 : 30));
  const latencyDuration = Number(values['latency-duration'] ?? (quick ? 4 : 10));
  const connections = Number(values.connections ?? 32);
  const flushRows = values['flush-rows'] !== undefined ? Number(values['flush-rows']) : undefined;
  const out = resolve(values.out ?? join(ROOT, 'bench', 'results', 'logging.json'));
  const modes = new Set(
    (values['latency-modes'] ?? 'colocated,isolated,niced,duckdb').split(',').map((m) => m.trim()),
  );
  if (values['no-isolate'] === true) modes.delete('isolated');
  const workloads = (values['latency-rows'] ?? LATENCY_WORKLOADS.join(','))
    .split(',')
    .map((w) => w.trim());
  for (const w of workloads) {
    if (!(LATENCY_WORKLOADS as readonly string[]).includes(w)) {
      throw new Error(`--latency-rows takes ${LATENCY_WORKLOADS.join(', ')}; got ${w}`);
    }
  }
  const openLoopText = values['open-loop'] ?? '0.2,0.35';
  const openLoopFractions =
    openLoopText === 'none'
      ? []
      : openLoopText
          .split(',')
          .map((f) => Number(f.trim()))
          .filter((f) => f !== 0);
  if (openLoopFractions.some((f) => !(f > 0 && f <= 1))) {
    throw new Error('--open-loop takes shares of capacity in (0, 1], e.g. 0.2,0.35');
  }
  for (const [name, v] of Object.entries({ rows, duration, latencyDuration, connections })) {
    if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  }

  const work = mkdtempSync(join(tmpdir(), 'argus-bench-logging-'));
  const load0 = loadavg();
  process.stderr.write(
    `machine: ${cpus().length} cores, load average ${load0.map((l) => l.toFixed(2)).join(' ')}\n`,
  );
  const server = await ClickHouseServer.start();
  const version = await clickhouseQuery(server.url, 'SELECT version()');
  process.stderr.write(`clickhouse-server ${version} on ${server.url}\n`);

  let bulk: BulkResult | undefined;
  let bulkRowBinary: BulkResult | undefined;
  let writer: WriterResult | undefined;
  const latencies: Array<{ mode: LatencyMode; result: LatencyComparison }> = [];
  try {
    if (!values['only-latency']) {
      // The writer first, in a fresh process (its RSS figures are not inflated by the bulk file's
      // encoding); then the bulk insert once the server's merges of the writer's parts are done.
      process.stderr.write(`(ii) PredictionWriter for ${duration} s ...\n`);
      writer = await sustainedWriter(server, duration, flushRows, work);
      process.stderr.write(`    ${fmt(writer.rowsPerSec)} rows/s\n`);
      await waitForMerges(server.url);
      process.stderr.write(`(i) bulk insert of ${fmt(rows)} rows ...\n`);
      bulk = await bulkInsert(server, rows, work);
      process.stderr.write(`    ${fmt(bulk.rowsPerSec)} rows/s\n`);
      await waitForMerges(server.url);
      process.stderr.write(`(i-b) the same rows as one RowBinary body (the writer's format) ...\n`);
      bulkRowBinary = await bulkInsert(server, rows, work, 'RowBinary');
      process.stderr.write(`    ${fmt(bulkRowBinary.rowsPerSec)} rows/s\n`);
      await waitForMerges(server.url);
    }
    const latencyRounds = values.rounds !== undefined ? Number(values.rounds) : quick ? 2 : 3;
    const cpuProfDir = values['cpu-prof'] !== undefined ? resolve(values['cpu-prof']) : undefined;
    const cores = cpus().length;
    const chPid = server.pid;
    for (const workload of values['skip-latency'] ? [] : (workloads as LatencyWorkload[])) {
      const compare = (
        mode: LatencyMode,
        extra: Partial<LatencyOptions> = {},
      ): Promise<LatencyComparison> =>
        runLatencyComparison({
          clickhouseUrl: server.url,
          workload,
          seconds: latencyDuration,
          connections,
          work,
          rounds: latencyRounds,
          openLoopFractions,
          tag: `-${workload}-${mode}`,
          cpuProfDir,
          clickhouseCpuMs: () => processCpuMs(server.pid),
          log: (m) => process.stderr.write(`    ${m}\n`),
          ...extra,
        });
      const record = (mode: LatencyMode, result: LatencyComparison) =>
        latencies.push({ mode, result });
      if (modes.has('colocated')) {
        process.stderr.write(
          `(iii) ${workload} rows: p99 latency, logging on vs off, ${latencyDuration} s each ...\n`,
        );
        record('colocated', await compare('colocated'));
      }
      if (modes.has('isolated') && cores >= 2 && chPid !== undefined) {
        // The same comparison with clickhouse-server pinned to the last core, and Argus and the
        // load generator to the others: ClickHouse's own ingest work no longer takes CPU from the
        // server being measured, as when it runs on its own machine.
        process.stderr.write(
          `(iii-b) ${workload} rows: clickhouse-server pinned to core ${cores - 1} (taskset) ...\n`,
        );
        record(
          'isolated',
          await compare('isolated', {
            isolate: {
              clickhousePid: chPid,
              clickhouseCores: String(cores - 1),
              argusCores: cores === 2 ? '0' : `0-${cores - 2}`,
              allCores: `0-${cores - 1}`,
            },
          }),
        );
      }
      if (modes.has('niced') && chPid !== undefined) {
        process.stderr.write(`(iii-c) ${workload} rows: clickhouse-server at nice 19 ...\n`);
        renice(chPid, 19);
        try {
          record(
            'niced',
            await compare('niced', {
              niced: true,
              // Threads clickhouse-server starts later inherit their creator's nice value, but
              // not every creator was reniced: renice every thread before each run.
              beforeRun: () => renice(chPid, 19),
            }),
          );
        } finally {
          renice(chPid, 0);
        }
      }
      if (modes.has('duckdb')) {
        process.stderr.write(
          `(iii-d) ${workload} rows: logging to DuckDB (the default store) ...\n`,
        );
        record('duckdb', await compare('duckdb', { store: 'duckdb' }));
      }
    }
  } finally {
    await server.dispose();
    rmSync(work, { recursive: true, force: true });
  }

  const lines: string[] = [];
  const row = (cols: string[]) =>
    lines.push(cols.map((c, i) => pad(c, [42, 22, 14, 10, 8][i] ?? 10)).join(' '));
  row(['measurement', 'value', 'vs limit', 'target', 'result']);
  row(['-'.repeat(41), '-'.repeat(21), '-'.repeat(13), '-'.repeat(9), '-'.repeat(6)]);
  const comparisons: Record<string, unknown> = {};
  if (bulk && writer) {
    const ratio = writer.rowsPerSec / bulk.rowsPerSec;
    const pass = ratio >= TARGET.minWriterRatio && writer.lost === 0;
    comparisons.writerVsBulk = { ratio, target: TARGET.minWriterRatio, pass };
    row([`(i) bulk insert, 1 TSV body`, `${fmt(bulk.rowsPerSec)} rows/s`, '1.00 (limit)', '', '']);
    if (bulkRowBinary) {
      row([
        `(i-b) bulk insert, 1 RowBinary body`,
        `${fmt(bulkRowBinary.rowsPerSec)} rows/s`,
        (bulkRowBinary.rowsPerSec / bulk.rowsPerSec).toFixed(2),
        '',
        '',
      ]);
    }
    row([
      `(ii) writer append → ClickHouse`,
      `${fmt(writer.rowsPerSec)} rows/s`,
      ratio.toFixed(2),
      `≥ ${TARGET.minWriterRatio.toFixed(2)}`,
      pass ? 'PASS' : 'MISS',
    ]);
    if (bulkRowBinary) {
      const vsBinary = writer.rowsPerSec / bulkRowBinary.rowsPerSec;
      comparisons.writerVsBulkRowBinary = { ratio: vsBinary };
      row([`     vs (i-b), same format`, '', vsBinary.toFixed(2), '', '']);
    }
    row([
      `     rows/s inside the ${Math.round(writer.seconds)} s window`,
      fmt(writer.windowRowsPerSec),
      (writer.windowRowsPerSec / bulk.rowsPerSec).toFixed(2),
      '',
      '',
    ]);
    row([
      `     loss (appended − uniqExact(id))`,
      fmt(writer.lost),
      '',
      '0',
      writer.lost === 0 ? 'PASS' : 'MISS',
    ]);
    row([
      `     RSS MB start / at 5 s / end / peak`,
      `${writer.rssMB.start} / ${writer.rssMB.at5s} / ${writer.rssMB.end} / ${writer.rssMB.peak}`,
      '',
      '',
      '',
    ]);
    row([`     RSS MB peak per 10 s window`, writer.rssMB.windowPeaks.join(' / '), '', '', '']);
    row([
      `     batches, mean rows per batch`,
      `${fmt(writer.batches)}, ${fmt(writer.meanBatchRows)}`,
      '',
      '',
      '',
    ]);
    row([
      `     spooled / dropped / errors`,
      `${writer.spooled} / ${writer.dropped} / ${writer.writeErrors}`,
      '',
      '',
      '',
    ]);
  }
  const latencyRows = (result: LatencyComparison, label: string, key: string) => {
    const storeName = result.store === 'duckdb' ? 'DuckDB' : 'ClickHouse';
    const added = result.on.p99Ms / result.off.p99Ms - 1;
    const pass = added <= TARGET.maxP99Added;
    comparisons[key] = { added, target: TARGET.maxP99Added, pass };
    row([`${label} p99 logging off`, `${result.off.p99Ms.toFixed(2)} ms`, '', '', '']);
    row([
      `      p99 logging → ${storeName}`,
      `${result.on.p99Ms.toFixed(2)} ms`,
      signedPercent(added),
      `≤ +${TARGET.maxP99Added * 100} %`,
      pass ? 'PASS' : 'MISS',
    ]);
    row([
      `      req/s off / on`,
      `${fmt(result.off.reqPerSec)} / ${fmt(result.on.reqPerSec)}`,
      (result.on.reqPerSec / result.off.reqPerSec).toFixed(2),
      '',
      '',
    ]);
    row([
      `      Argus CPU µs/request off / on`,
      `${result.off.cpuUsPerRequest.toFixed(0)} / ${result.on.cpuUsPerRequest.toFixed(0)}`,
      signedPercent(result.on.cpuUsPerRequest / result.off.cpuUsPerRequest - 1),
      '',
      '',
    ]);
    row([
      `        of it on the main thread`,
      `${result.off.mainThreadCpuUsPerRequest.toFixed(0)} / ${result.on.mainThreadCpuUsPerRequest.toFixed(0)}`,
      signedPercent(result.on.mainThreadCpuUsPerRequest / result.off.mainThreadCpuUsPerRequest - 1),
      '',
      '',
    ]);
    row([
      `      clickhouse CPU µs/request off / on`,
      `${result.off.clickhouseCpuUsPerRequest.toFixed(0)} / ${result.on.clickhouseCpuUsPerRequest.toFixed(0)}`,
      '',
      '',
      '',
    ]);
    row([
      `      p50 off / on ms`,
      `${result.off.p50Ms.toFixed(2)} / ${result.on.p50Ms.toFixed(2)}`,
      '',
      '',
      '',
    ]);
    for (const open of result.openLoop) {
      const openAdded = open.on.p99Ms / open.off.p99Ms - 1;
      const openPass = openAdded <= TARGET.maxP99Added;
      comparisons[`${key}OpenLoop${Math.round(open.fraction * 100)}`] = {
        added: openAdded,
        target: TARGET.maxP99Added,
        pass: openPass,
      };
      const failed = open.on.non2xx + open.on.errors + open.off.non2xx + open.off.errors;
      row([
        `      open loop ${fmt(open.rate)} req/s (${(open.fraction * 100).toFixed(0)} %): p99 off → on`,
        `${open.off.p99Ms.toFixed(2)} → ${open.on.p99Ms.toFixed(2)} ms`,
        signedPercent(openAdded),
        `≤ +${TARGET.maxP99Added * 100} %`,
        openPass ? 'PASS' : 'MISS',
      ]);
      row([
        `        p50 / p99.9 off → on; failed`,
        `${open.off.p50Ms.toFixed(2)} / ${open.off.p999Ms.toFixed(1)} → ${open.on.p50Ms.toFixed(2)} / ${open.on.p999Ms.toFixed(1)} ms; ${failed}`,
        '',
        '',
        '',
      ]);
      row([
        `        main-thread CPU µs/request off → on`,
        `${open.off.mainThreadCpuUsPerRequest.toFixed(0)} → ${open.on.mainThreadCpuUsPerRequest.toFixed(0)}`,
        signedPercent(open.on.mainThreadCpuUsPerRequest / open.off.mainThreadCpuUsPerRequest - 1),
        '',
        '',
      ]);
    }
    row([
      `      rows logged (${result.store === 'duckdb' ? 'count' : 'uniqExact'}) / served`,
      `${fmt(result.on.logged ?? 0)} / ${fmt(result.on.served)}` +
        (result.on.spooledBytesAtExit ? ` (+ ${fmt(result.on.spooledBytesAtExit)} B spooled)` : ''),
      '',
      '',
      '',
    ]);
  };
  for (const { mode, result } of latencies) {
    const { heading, key } = LATENCY_MODE_LABELS[mode];
    const workload = result.workload;
    row([`${heading}, ${workload} rows:`, '', '', '', '']);
    latencyRows(result, '      ', `${key}${workload[0].toUpperCase()}${workload.slice(1)}`);
  }
  const load1 = loadavg();
  process.stdout.write(
    `\n${lines.join('\n')}\n\nload average before ${load0.map((l) => l.toFixed(2)).join(' ')}, after ${load1.map((l) => l.toFixed(2)).join(' ')}\n`,
  );

  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    JSON.stringify(
      {
        benchmark: 'logging',
        date: new Date().toISOString(),
        machine: {
          cores: cpus().length,
          model: cpus()[0]?.model,
          loadavgBefore: load0,
          loadavgAfter: load1,
        },
        clickhouse: version,
        settings: {
          rows,
          duration,
          latencyDuration,
          connections,
          flushRows: flushRows ?? 5000,
          quick,
        },
        targets: TARGET,
        bulk,
        writer,
        latency: latencies.map(({ mode, result }) => ({ mode, ...result })),
        bulkRowBinary,
        comparisons,
      },
      null,
      2,
    ) + '\n',
  );
  process.stdout.write(`results: ${out}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
