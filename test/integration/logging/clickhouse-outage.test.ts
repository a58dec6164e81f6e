import { ClickHouseStore } from '../../../src/store/clickhouse-store';
import { ClickHouseServer, startPrivateClickHouse } from '../../harness/clickhouse';
import { CLASSIFIER_META, irisLikeClassifier } from '../../fixtures/models';
import {
  eventually,
  registerOk,
  sleep,
  startTestServer,
  TestServer,
  waitChampionReady,
} from '../../e2e/helpers';
import {
  clickhouseNumber,
  clickhouseRows,
  expectStoredInputs,
  irisRows,
  spoolFiles,
  writerOf,
} from './support';

/**
 * ClickHouse dies (SIGKILL) under a steady stream of predictions, stays down for many flush
 * intervals, and comes back on the same data directory. The service must answer every request
 * meanwhile, and after the replay every served prediction id must be in the table exactly once.
 */

const DATABASE = 'argus_outage';
const FLUSH_MS = 100;
/** Bounds of the request stream: it stops at whichever comes first. */
const MAX_REQUESTS = 1500;
const MAX_STREAM_MS = 40_000;
const WORKERS = 4;

interface Served {
  status: number;
  ids: string[];
  rows: number[][];
}

describe('prediction log: ClickHouse killed while predictions flow', () => {
  let clickhouse: ClickHouseServer;
  let server: TestServer | undefined;

  beforeAll(async () => {
    clickhouse = await startPrivateClickHouse();
    server = await startTestServer({
      CLICKHOUSE_URL: clickhouse.url,
      CLICKHOUSE_DATABASE: DATABASE,
      ARGUS_LOG_FLUSH_MS: String(FLUSH_MS),
      ARGUS_LOG_FLUSH_ROWS: '500',
    });
    await registerOk(server, 'iris', irisLikeClassifier(), {
      metadata: CLASSIFIER_META,
      alias: 'champion',
    });
    await waitChampionReady(server, 'iris');
  }, 90_000);

  afterAll(async () => {
    await server?.close();
    await clickhouse?.dispose();
  });

  it('answers every request, then stores every served id exactly once and empties the spool', async () => {
    const s = server!;
    const served: Served[] = [];
    const failures: string[] = [];
    let stop = false;
    const started = Date.now();
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        if (served.length + failures.length >= MAX_REQUESTS || Date.now() - started > MAX_STREAM_MS)
          return;
        const rows = irisRows(1 + ((i + w) % 3), i * WORKERS + w);
        try {
          const res = await s.request('POST', '/v1/models/iris/predict', {
            json: { instances: rows },
            timeoutMs: 10_000,
          });
          const ids = (res.body as { prediction_ids?: string[] } | undefined)?.prediction_ids ?? [];
          served.push({ status: res.status, ids, rows });
        } catch (err) {
          failures.push(String(err));
        }
      }
    };
    const waitForServed = async (count: number) => {
      const deadline = Date.now() + 15_000;
      while (served.length < count && Date.now() < deadline && !stop) await sleep(10);
    };
    const stream = Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));

    try {
      await waitForServed(100);
      const beforeKill = served.length;
      await clickhouse.kill('SIGKILL');
      // Down for many flush intervals while requests keep coming.
      await sleep(20 * FLUSH_MS);
      const duringOutage = served.length - beforeKill;
      const metricsDuringOutage = writerOf(s).metrics();
      await clickhouse.start();
      await waitForServed(served.length + 150);
      stop = true;
      await stream;

      expect(failures).toEqual([]);
      expect(duringOutage).toBeGreaterThan(20);
      expect(served.filter((r) => r.status !== 200)).toEqual([]);
      // The outage was real: batches failed and went to the spool.
      expect(metricsDuringOutage.tables.predictions.writeErrors).toBeGreaterThan(0);
      expect(metricsDuringOutage.tables.predictions.recordsSpooled).toBeGreaterThan(0);
    } finally {
      stop = true;
      await stream;
    }

    const ids = served.flatMap((r) => r.ids);
    expect(new Set(ids).size).toBe(ids.length);

    // Replay: every served id arrives; nothing else does (no failed requests were logged).
    await eventually(
      'replay of the spool',
      async () => {
        const unique = await clickhouseNumber(
          clickhouse.url,
          `SELECT uniqExact(id) FROM ${DATABASE}.predictions`,
        );
        return unique === ids.length && spoolFiles(s.home).length === 0 ? true : undefined;
      },
      60_000,
      200,
    );
    const stored = await clickhouseRows(
      clickhouse.url,
      `SELECT toString(id), min(status), max(status) FROM ${DATABASE}.predictions GROUP BY id`,
    );
    expect(new Set(stored.map((r) => r[0]))).toEqual(new Set(ids));
    expect(stored.every((r) => r[1] === '200' && r[2] === '200')).toBe(true);
    // The rows themselves survived the spool: inputs as sent, for every id.
    await expectStoredInputs(
      clickhouse.url,
      DATABASE,
      new Map(served.flatMap((r) => r.ids.map((id, k): [string, number[]] => [id, r.rows[k]]))),
    );

    // Duplicates (batches retried after a lost acknowledgement) collapse when the table merges.
    const store = new ClickHouseStore({
      url: clickhouse.url,
      user: 'default',
      password: '',
      database: DATABASE,
    });
    try {
      await store.compact();
    } finally {
      await store.close();
    }
    expect(
      await clickhouseNumber(clickhouse.url, `SELECT count() FROM ${DATABASE}.predictions`),
    ).toBe(ids.length);
    expect(spoolFiles(s.home)).toEqual([]);
    const metrics = writerOf(s).metrics();
    expect(metrics.tables.predictions.recordsDropped).toBe(0);
    expect(metrics.tables.predictions.batches.replayed).toBeGreaterThan(0);
  }, 120_000);
});
