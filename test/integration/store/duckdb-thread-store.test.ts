import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { StoreUnavailableError } from '../../../src/store';
import { DuckDbThreadStore } from '../../../src/store/duckdb-thread-store';
import { prediction } from './support';

/**
 * What the thread adds to the DuckDB store, beyond the contract suite (which runs it too): the
 * thread's life cycle. A dead thread must look like an unreachable store, so the prediction writer
 * spools instead of losing rows.
 */
describe('DuckDbThreadStore', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'argus-duckdb-thread-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses calls once closed, and closes twice without error', async () => {
    const store = await DuckDbThreadStore.open({ path: join(dir, 'argus.duckdb') });
    await store.migrate();
    await store.insertPredictions([prediction()]);
    await store.close();
    await store.close();
    await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.insertPredictions([prediction()])).rejects.toBeInstanceOf(
      StoreUnavailableError,
    );
  });

  it('fails to open as DuckDbStore does, with StoreUnavailableError naming the file', async () => {
    const notADirectory = join(dir, 'file');
    writeFileSync(notADirectory, 'x');
    const attempt = DuckDbThreadStore.open({ path: join(notADirectory, 'argus.duckdb') });
    await expect(attempt).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(attempt).rejects.toThrow(/cannot open DuckDB database .*file\/argus\.duckdb/);
  });

  it('turns a dead thread into StoreUnavailableError for calls in flight and every later call', async () => {
    const store = await DuckDbThreadStore.open({ path: join(dir, 'argus.duckdb') });
    await store.migrate();
    const rows = Array.from({ length: 2000 }, () => prediction());
    const inFlight = store.insertPredictions(rows);
    // The thread is private; ending it from outside stands in for a crash of the thread.
    const worker = (store as unknown as { worker: Worker }).worker;
    const ended = worker.terminate();
    await expect(inFlight).rejects.toBeInstanceOf(StoreUnavailableError);
    await ended;
    await expect(store.ping()).rejects.toThrow(/the DuckDB store thread exited/);
    await store.close();
  });

  it('keeps the process alive while a call is in flight, and lets it exit when idle', () => {
    // A CLI awaiting a store call must not exit early, and an open, idle store must not hold a
    // process that is otherwise done (as with DuckDbStore on the calling thread).
    const script = join(dir, 'cli.ts');
    const source = resolve(__dirname, '../../../src/store/duckdb-thread-store.ts');
    writeFileSync(
      script,
      `import { DuckDbThreadStore } from ${JSON.stringify(source)};
       void (async () => {
         const store = await DuckDbThreadStore.open({ path: ${JSON.stringify(join(dir, 'cli.duckdb'))} });
         const report = await store.migrate();
         await store.ping();
         process.stdout.write('migrated ' + report.applied.length + '\\n');
       })();`,
    );
    const output = execFileSync(
      process.execPath,
      ['-r', require.resolve('ts-node/register/transpile-only'), script],
      {
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, TS_NODE_PROJECT: resolve(__dirname, '../../../tsconfig.json') },
      },
    );
    expect(output).toMatch(/^migrated [1-9]\d*\n$/);
  });
});
