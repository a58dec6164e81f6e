import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { PredictionRecord } from '../../src/predictions/prediction-record';
import { PredictionWriter } from '../../src/predictions/prediction-writer';
import { encodeSpoolFrame, encodeSpoolFrameSliced } from '../../src/predictions/spool';
import type { AnalyticsStore } from '../../src/store/analytics-store';
import { ClickHouseStore } from '../../src/store/clickhouse-store';
import { predictionsRowBinary } from '../../src/store/clickhouse-rowbinary';
import { DuckDbStore } from '../../src/store/duckdb-store';
import { DuckDbThreadStore } from '../../src/store/duckdb-thread-store';
import { validatePredictions } from '../../src/store/store-rows';
import { ClickHouseServer } from '../../test/harness/clickhouse-server';
import { threadCpuMs } from '../serving/child';
import { mnistRows } from '../serving/payloads';
import { RecordFactory } from './rows';

/**
 * How long the prediction log's flush holds the event loop, per store and row width. A request
 * that arrives while a flush runs synchronously waits for it, so the longest pause of a flush is
 * what the log adds to the predict path's p99.
 *
 *   node -r ts-node/register/transpile-only bench/logging/flush-pauses.ts [--batches 6] [--rows 5000]
 *
 * For each store (ClickHouse started privately, DuckDB in a temporary file, on its own thread as Argus runs it) and row shape
 * (8 features + 10 scores; MNIST: 784 inputs + 10 scores), it appends `--rows` records at once
 * `--batches` times through a real PredictionWriter (flushRows = rows, as Argus configures it) and
 * records, while each flush runs, the gaps between consecutive turns of the event loop (a
 * setImmediate ticker): `max pause` is the longest gap, `busy` the sum of gaps over 1 ms (both
 * include time the thread waited for a core), `main-thread CPU` the event-loop thread's own CPU
 * time per flush (/proc, 10 ms ticks, averaged). It also
 * times the synchronous pieces on their own: validation and one-buffer RowBinary encoding.
 */

const HELP = `flush-pauses: event-loop pauses of the prediction log's flush
  --batches N     flushes per store and row shape (default 6; the first is a warm-up)
  --rows N        rows per flush (default 5000, ARGUS_LOG_FLUSH_ROWS)
  --stores LIST   clickhouse,duckdb (default both); duckdb is the store on its own thread, as
                  Argus runs it; duckdb-same-thread runs DuckDbStore on the event loop (before
                  session 10)
`;

/**
 * Real digits from the `mnist` package: their zeros matter since DuckDB stores mostly-zero inputs
 * sparse (src/store/input-blob.ts); synthetic dense pixels would measure a worst case instead.
 */
function mnistFactory(seed: number): () => PredictionRecord {
  const base = new RecordFactory(Date.now(), seed);
  const images = mnistRows(64).map((row) => Float32Array.from(row));
  let n = 0;
  return () => ({ ...base.next(), model: 'mnist', inputs: images[n++ & 63] });
}

interface Shape {
  name: string;
  make: () => PredictionRecord;
}

/** Gaps between event-loop turns while `body` runs. */
async function measurePauses(
  body: () => Promise<void>,
  ticker = true,
): Promise<{
  maxMs: number;
  busyMs: number;
  wallMs: number;
  gaps: number;
  cpuMs: number;
}> {
  let running = true;
  let last = performance.now();
  let maxMs = 0;
  let busyMs = 0;
  let gaps = 0;
  const tick = (): void => {
    const now = performance.now();
    const gap = now - last;
    last = now;
    if (gap > maxMs) maxMs = gap;
    if (gap > 1) {
      busyMs += gap;
      gaps++;
    }
    if (running) setImmediate(tick);
  };
  if (ticker) setImmediate(tick);
  const start = performance.now();
  const cpu0 = threadCpuMs();
  await body();
  const wallMs = performance.now() - start;
  const cpuMs = threadCpuMs() - cpu0;
  running = false;
  await new Promise((r) => setImmediate(r));
  return { maxMs, busyMs, wallMs, gaps, cpuMs };
}

function fmt(n: number): string {
  return n.toFixed(n < 10 ? 2 : 1);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      batches: { type: 'string' },
      rows: { type: 'string' },
      stores: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const batches = Number(values.batches ?? 6);
  const rows = Number(values.rows ?? 5000);
  const stores = (values.stores ?? 'clickhouse,duckdb').split(',');
  const shapes: Shape[] = [
    {
      name: '8 features',
      make: (() => {
        const f = new RecordFactory(Date.now(), 7);
        return () => f.next();
      })(),
    },
    { name: 'mnist 784', make: mnistFactory(11) },
  ];
  const work = mkdtempSync(join(tmpdir(), 'argus-flush-pauses-'));
  process.stdout.write(
    `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}\n`,
  );
  const lines: string[] = [];

  // Synchronous pieces alone.
  for (const shape of shapes) {
    const batch = Array.from({ length: rows }, shape.make);
    for (let i = 0; i < 3; i++) {
      let t = performance.now();
      validatePredictions(batch);
      const validateMs = performance.now() - t;
      t = performance.now();
      predictionsRowBinary(batch);
      const encodeMs = performance.now() - t;
      t = performance.now();
      encodeSpoolFrame(batch);
      const spoolMs = performance.now() - t;
      const sliced = await measurePauses(async () => {
        await encodeSpoolFrameSliced(batch);
      });
      if (i === 2) {
        lines.push(
          `${shape.name}: spool frame (store slow or down) one piece ${fmt(spoolMs)} ms, ` +
            `sliced: max pause ${fmt(sliced.maxMs)} ms, wall ${fmt(sliced.wallMs)} ms`,
        );
        lines.push(
          `${shape.name}: validatePredictions ${fmt(validateMs)} ms, RowBinary one buffer ${fmt(encodeMs)} ms per ${rows} rows`,
        );
      }
    }
  }

  let server: ClickHouseServer | undefined;
  try {
    for (const kind of stores) {
      for (const shape of shapes) {
        let store: AnalyticsStore;
        if (kind === 'clickhouse') {
          server ??= await ClickHouseServer.start();
          const ch = new ClickHouseStore({
            url: server.url,
            user: 'default',
            password: '',
            database: `pauses_${shape.name.replace(/\W/g, '_')}`,
          });
          store = ch;
        } else {
          const path = join(work, `${kind}-${shape.name.replace(/\W/g, '_')}.duckdb`);
          store =
            kind === 'duckdb-same-thread'
              ? await DuckDbStore.open({ path })
              : await DuckDbThreadStore.open({ path });
        }
        await store.migrate();
        const home = join(work, `${kind}-${shape.name.replace(/\W/g, '_')}`);
        const writer = new PredictionWriter({ store, home, flushRows: rows, maxBatchRows: rows });
        await writer.start();
        const results: Array<Awaited<ReturnType<typeof measurePauses>>> = [];
        for (let b = 0; b < batches; b++) {
          const batch = Array.from({ length: rows }, shape.make);
          const r = await measurePauses(async () => {
            writer.predictions.append(batch);
            await writer.flush();
          });
          if (b > 0) results.push(r);
        }
        // The main thread's CPU per flush, without the ticker (which spins on the same thread).
        let cpuMs = 0;
        for (let b = 0; b < batches; b++) {
          const batch = Array.from({ length: rows }, shape.make);
          const r = await measurePauses(async () => {
            writer.predictions.append(batch);
            await writer.flush();
          }, false);
          cpuMs += r.cpuMs / batches;
        }
        await writer.close();
        await store.close();
        const metrics = writer.metrics();
        const maxes = results.map((r) => r.maxMs).sort((a, b) => a - b);
        const median = (xs: number[]) => xs[xs.length >> 1];
        lines.push(
          `${kind} ${shape.name}: flush of ${rows} rows: max pause median ${fmt(median(maxes))} ms ` +
            `(worst ${fmt(maxes[maxes.length - 1])}), loop busy ${fmt(median(results.map((r) => r.busyMs)))} ms ` +
            `in ${median(results.map((r) => r.gaps))} gaps > 1 ms, wall ${fmt(median(results.map((r) => r.wallMs)))} ms, ` +
            `main-thread CPU ${fmt(cpuMs)} ms (mean); ` +
            `written ${metrics.tables.predictions.recordsWritten}, spooled ${metrics.tables.predictions.recordsSpooled}`,
        );
      }
    }
  } finally {
    await server?.dispose();
    rmSync(work, { recursive: true, force: true });
  }
  process.stdout.write(lines.join('\n') + '\n');
  process.stdout.write(
    `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
