import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClickHouseServer, startPrivateClickHouse } from '../../harness/clickhouse';
import { CLASSIFIER_META, irisLikeClassifier } from '../../fixtures/models';
import {
  ensureBuilt,
  eventually,
  httpRequest,
  runCli,
  sleep,
  startTestServer,
  TestServer,
  tempHome,
} from '../../e2e/helpers';
import {
  ArgusProcess,
  clickhouseRows,
  expectStoredInputs,
  irisRows,
  spoolFiles,
  startArgusProcess,
} from './support';

/**
 * `ARGUS_LOG_DURABILITY=sync`: a prediction is acknowledged only once its record is in the fsynced
 * spool (or in the store). Argus runs as a real process with ClickHouse down, answers requests,
 * and is SIGKILLed mid-stream; a new Argus on the same ARGUS_HOME, with ClickHouse back, replays
 * the spool: every acknowledged prediction id is then in ClickHouse.
 */

const DATABASE = 'argus_sync';
const MAX_REQUESTS = 600;
const MAX_STREAM_MS = 20_000;
const WORKERS = 6;

describe('prediction log: sync durability survives SIGKILL of Argus', () => {
  let clickhouse: ClickHouseServer;
  let home: string;
  let work: string;
  let argus: ArgusProcess | undefined;
  let second: TestServer | undefined;

  beforeAll(async () => {
    ensureBuilt();
    home = tempHome('argus-sync-home-');
    work = tempHome('argus-sync-files-');
    clickhouse = await startPrivateClickHouse();
    // Down from the start: Argus boots without its store (migrations are retried in the background).
    await clickhouse.kill('SIGKILL');
    writeFileSync(join(work, 'iris.onnx'), irisLikeClassifier());
    writeFileSync(join(work, 'meta.json'), JSON.stringify(CLASSIFIER_META));
    const registered = await runCli([
      '--home',
      home,
      'models',
      'register',
      '--name',
      'iris',
      '--file',
      join(work, 'iris.onnx'),
      '--metadata',
      join(work, 'meta.json'),
      '--alias',
      'champion',
    ]);
    expect(registered.code).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await argus?.kill('SIGKILL');
    await second?.close();
    await clickhouse?.dispose();
    for (const dir of [home, work]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('loses no acknowledged prediction', async () => {
    const env = {
      ARGUS_HOME: home,
      CLICKHOUSE_URL: clickhouse.url,
      CLICKHOUSE_DATABASE: DATABASE,
      ARGUS_LOG_DURABILITY: 'sync',
      ARGUS_LOG_FLUSH_MS: '50',
    };
    const proc = await startArgusProcess(env);
    argus = proc;
    await eventually(
      'the champion to be ready',
      async () =>
        (await httpRequest(`${proc.url}/v2/models/iris/ready`, 'GET')).status === 200
          ? true
          : undefined,
      30_000,
    );

    const acknowledged: string[] = [];
    const sentRows = new Map<string, number[]>();
    const statuses: number[] = [];
    let requests = 0;
    let connectionErrors = 0;
    let killed = false;
    const started = Date.now();
    const worker = async (w: number) => {
      for (let i = 0; ; i++) {
        if (killed || requests >= MAX_REQUESTS || Date.now() - started > MAX_STREAM_MS) return;
        requests++;
        try {
          const rows = irisRows(1 + ((i + w) % 2), i * WORKERS + w);
          const res = await httpRequest(`${proc.url}/v1/models/iris/predict`, 'POST', {
            json: { instances: rows },
            timeoutMs: 10_000,
          });
          statuses.push(res.status);
          if (res.status === 200) {
            const ids = (res.body as { prediction_ids: string[] }).prediction_ids;
            acknowledged.push(...ids);
            ids.forEach((id, k) => sentRows.set(id, rows[k]));
          }
        } catch {
          connectionErrors++; // in flight when the process died: not acknowledged
        }
      }
    };
    const stream = Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
    const deadline = Date.now() + 15_000;
    while (acknowledged.length < 300 && Date.now() < deadline) await sleep(5);
    // Crash mid-stream, requests in flight.
    killed = true; // no new requests; those in flight die with the process
    await proc.kill('SIGKILL');
    await stream;

    expect(statuses.length).toBeGreaterThan(100);
    // Only the requests in flight at the kill went unanswered.
    expect(connectionErrors).toBeLessThanOrEqual(WORKERS);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(acknowledged.length).toBeGreaterThanOrEqual(300);
    // ClickHouse was down the whole time: everything acknowledged is only in the spool.
    expect(spoolFiles(home).length).toBeGreaterThan(0);

    // ClickHouse back, a new Argus on the same home: it migrates and replays by itself.
    await clickhouse.start();
    second = await startTestServer(env, home);
    const ackedSet = new Set(acknowledged);
    const missing = await eventually(
      'every acknowledged id in ClickHouse',
      async () => {
        const rows = await clickhouseRows(
          clickhouse.url,
          `SELECT DISTINCT toString(id) FROM ${DATABASE}.predictions`,
        );
        const stored = new Set(rows.map((r) => r[0]));
        const absent = [...ackedSet].filter((id) => !stored.has(id));
        return absent.length === 0 ? absent : undefined;
      },
      60_000,
      250,
    );
    expect(missing).toEqual([]);
    // Every stored row is a successful prediction of this stream (no invented or failed rows).
    const stored = await clickhouseRows(
      clickhouse.url,
      `SELECT uniqExact(id), min(status), max(status), any(model) FROM ${DATABASE}.predictions`,
    );
    expect(stored[0].slice(1)).toEqual(['200', '200', 'iris']);
    expect(Number(stored[0][0])).toBeGreaterThanOrEqual(acknowledged.length);
    expect(Number(stored[0][0])).toBeLessThanOrEqual(acknowledged.length + WORKERS * 2);
    // The rows came back from the fsynced spool intact (inputs are binary-encoded in its frames).
    await expectStoredInputs(clickhouse.url, DATABASE, sentRows);
    await eventually('the spool to empty', async () =>
      spoolFiles(home).length === 0 ? true : undefined,
    );
  }, 150_000);
});
