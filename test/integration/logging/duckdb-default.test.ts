import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { CLASSIFIER_META, irisLikeClassifier, linearRegressor } from '../../fixtures/models';
import {
  eventually,
  registerOk,
  sleep,
  startTestServer,
  tempHome,
  TestServer,
  waitChampionReady,
} from '../../e2e/helpers';
import { duckDbRows, irisRows, storeOf, writerOf } from './support';

/**
 * The default path, as `npm start` runs it: no ClickHouse configured, so predictions and labels go
 * to the embedded DuckDB file under ARGUS_HOME. Predictions of both protocols, failed requests
 * (with status and error), feedback, and re-sent feedback replacing the label.
 */

interface V1Answer {
  prediction_ids: string[];
  predictions: Array<{ label?: string; value?: number }>;
}

describe('prediction log on the embedded DuckDB store (default configuration)', () => {
  let server: TestServer | undefined;
  let home: string;
  const from = Date.now() - 60_000;

  beforeAll(async () => {
    home = tempHome('argus-duckdb-default-');
    server = await startTestServer({ ARGUS_LOG_FLUSH_MS: '50' }, home);
    await registerOk(server, 'iris', irisLikeClassifier(), {
      metadata: CLASSIFIER_META,
      alias: 'champion',
    });
    await registerOk(server, 'reg', linearRegressor(), {
      metadata: { task: 'regression' },
      alias: 'champion',
    });
    await waitChampionReady(server, 'iris');
    await waitChampionReady(server, 'reg');
  }, 90_000);

  afterAll(async () => {
    await server?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('logs predictions and failures, and the newest feedback wins', async () => {
    const s = server!;
    expect(storeOf(s).kind).toBe('duckdb');

    const v1 = await s.request('POST', '/v1/models/iris/predict', {
      json: { instances: irisRows(5) },
    });
    expect(v1.status).toBe(200);
    const v1Answer = v1.body as V1Answer;
    const v2 = await s.request('POST', '/v2/models/iris/infer', {
      json: {
        inputs: [{ name: 'input', shape: [2, 4], datatype: 'FP32', data: irisRows(2, 9).flat() }],
      },
    });
    expect(v2.status).toBe(200);
    const v2Ids = (v2.body as { parameters?: { prediction_ids?: string[] } }).parameters
      ?.prediction_ids;
    expect(v2Ids).toHaveLength(2);
    const reg = await s.request('POST', '/v1/models/reg/predict', {
      json: { instances: [[1, 2, 3]] },
    });
    expect(reg.status).toBe(200);
    const regAnswer = reg.body as V1Answer;

    // Failed requests are logged with their status and error.
    const bad = await s.request('POST', '/v1/models/iris/predict', {
      json: { instances: [[1, 2, 3]] },
    });
    expect(bad.status).toBe(400);
    const unknown = await s.request('POST', '/v1/models/nope/predict', {
      json: { instances: [[1, 2, 3, 4]] },
    });
    expect(unknown.status).toBe(404);

    const store = storeOf(s);
    await eventually('every prediction in DuckDB', async () => {
      await writerOf(s).flush();
      const counts = await store.countPredictions({ from });
      const total = counts.reduce((n, c) => n + c.count, 0);
      return total === 5 + 2 + 1 + 1 + 1 ? counts : undefined;
    });
    const counts = await store.countPredictions({ from });
    expect(
      counts.map((c) => ({ model: c.model, status: c.status, count: c.count, route: c.route })),
    ).toEqual([
      { model: 'iris', status: 200, count: 7, route: 'champion' },
      { model: 'iris', status: 400, count: 1, route: 'champion' },
      { model: 'nope', status: 404, count: 1, route: 'champion' },
      { model: 'reg', status: 200, count: 1, route: 'champion' },
    ]);
    const summaries = await store.lookupPredictions([...v1Answer.prediction_ids, ...v2Ids!]);
    expect(summaries.size).toBe(7);
    v1Answer.prediction_ids.forEach((id, i) =>
      expect(summaries.get(id)?.label).toBe(v1Answer.predictions[i].label),
    );
    expect(
      (await store.lookupPredictions(regAnswer.prediction_ids)).get(regAnswer.prediction_ids[0])
        ?.value,
    ).toBeCloseTo(regAnswer.predictions[0].value!, 5);

    // Feedback, then corrections for some ids: the newest label wins, one row per id.
    const first = v1Answer.prediction_ids.map((id) => ({ prediction_id: id, label: 'setosa' }));
    expect((await s.request('POST', '/v1/feedback', { json: first })).status).toBe(200);
    expect(
      (
        await s.request('POST', '/v1/feedback', {
          json: [{ prediction_id: regAnswer.prediction_ids[0], value: 14.5 }],
        })
      ).status,
    ).toBe(200);
    const to = Date.now() + 60_000;
    await eventually('the first labels', async () => {
      const rows = await store.labeledPredictions({ model: 'iris', from, to });
      return rows.length === 5 ? rows : undefined;
    });
    await sleep(5); // a later feedback timestamp for the corrections
    const corrected = v1Answer.prediction_ids.slice(0, 2);
    const second = corrected.map((id) => ({ prediction_id: id, label: 'virginica' }));
    expect((await s.request('POST', '/v1/feedback', { json: second })).status).toBe(200);
    const labeled = await eventually('the corrected labels', async () => {
      const rows = await store.labeledPredictions({ model: 'iris', from, to });
      const done = rows.filter((r) => r.actual_label === 'virginica').length === 2;
      return done ? rows : undefined;
    });
    expect(labeled).toHaveLength(5);
    for (const row of labeled) {
      expect(row.actual_label).toBe(corrected.includes(row.id) ? 'virginica' : 'setosa');
    }
    const [regRow] = await store.labeledPredictions({ model: 'reg', from, to });
    expect(regRow.actual_value).toBe(14.5);
    expect((await store.rowCounts()).feedback).toBe(6);

    // The raw rows, read from the DuckDB file itself once the server has let go of it.
    await s.close();
    server = undefined;
    const failed = await duckDbRows(
      join(home, 'argus.duckdb'),
      'SELECT model, status, error, protocol, batch_size FROM predictions WHERE status >= 400 ORDER BY status',
    );
    expect(failed).toEqual([
      {
        model: 'iris',
        status: 400,
        error: (bad.body as { error: string }).error,
        protocol: 'v1',
        batch_size: 0,
      },
      {
        model: 'nope',
        status: 404,
        error: (unknown.body as { error: string }).error,
        protocol: 'v1',
        batch_size: 0,
      },
    ]);
    const feedback = await duckDbRows(
      join(home, 'argus.duckdb'),
      'SELECT count(*) AS n, count(DISTINCT prediction_id) AS ids FROM feedback',
    );
    expect(feedback).toEqual([{ n: 6n, ids: 6n }]);
  }, 90_000);
});
