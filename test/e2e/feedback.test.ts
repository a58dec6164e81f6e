import { randomUUID } from 'node:crypto';
import { PredictionWriter } from '../../src/predictions/prediction-writer';
import { ANALYTICS_STORE, AnalyticsStore } from '../../src/store';
import { CLASSIFIER_META, irisLikeClassifier, linearRegressor } from '../fixtures/models';
import {
  eventually,
  HttpResult,
  registerOk,
  startTestServer,
  TestServer,
  waitChampionReady,
} from './helpers';

/**
 * `POST /v1/feedback` over real HTTP against a real server and store: a valid batch is accepted
 * and stored; every kind of bad request is a 4xx that names the bad rows, and nothing of a
 * refused request reaches the spool or the store.
 */

interface RowProblem {
  index: number;
  prediction_id: string | null;
  error: string;
}

interface Rejection {
  error: string;
  rows?: RowProblem[];
}

interface BadCase {
  name: string;
  /** The body, built from prediction ids that have no label yet. */
  body: (ids: Ids) => unknown;
  status: number;
  error: RegExp;
  /** Indexes of the rows the answer must list, with an error matching `rowError`. */
  rows?: number[];
  rowError?: RegExp;
}

/** Fresh prediction ids per case: a classifier row and regressor rows nobody labeled. */
interface Ids {
  iris: string;
  iris2: string;
  iris3: string;
  reg: string;
  reg2: string;
  reg3: string;
  reg4: string;
}

const BAD_CASES: BadCase[] = [
  {
    name: 'body is an object, not an array',
    body: (ids) => ({ prediction_id: ids.iris, label: 'setosa' }),
    status: 400,
    error: /body must be a JSON array/,
  },
  { name: 'empty array', body: () => [], status: 400, error: /no feedback rows/ },
  {
    name: 'more than 10 000 rows',
    body: (ids) =>
      Array.from({ length: 10_001 }, (_, i) => ({
        prediction_id: i === 0 ? ids.iris : randomUUID(),
        label: 'setosa',
      })),
    status: 413,
    error: /10001 feedback rows; at most 10000 per request/,
  },
  {
    name: 'not JSON at all',
    body: () => '[{"prediction_id": ',
    status: 400,
    error: /not valid JSON/,
  },
  {
    name: 'unknown prediction id',
    body: (ids) => [
      { prediction_id: ids.iris, label: 'setosa' },
      { prediction_id: randomUUID(), label: 'setosa' },
    ],
    status: 400,
    error: /1 of 2 feedback rows are invalid; nothing was written/,
    rows: [1],
    rowError: /unknown prediction id/,
  },
  {
    name: 'the same id twice',
    body: (ids) => [
      { prediction_id: ids.iris, label: 'setosa' },
      { prediction_id: ids.iris2, label: 'setosa' },
      { prediction_id: ids.iris.toUpperCase(), label: 'virginica' },
    ],
    status: 400,
    error: /1 of 3 feedback rows are invalid/,
    rows: [2],
    rowError: /duplicate of row 0/,
  },
  {
    name: 'a label that is not a class of the model',
    body: (ids) => [
      { prediction_id: ids.iris, label: 'setosa' },
      { prediction_id: ids.iris2, label: 'rose' },
      // Integer labels are class names written as numbers ("0".."9" for MNIST), not indexes.
      { prediction_id: ids.iris3, label: 2 },
    ],
    status: 400,
    error: /2 of 3/,
    rows: [1, 2],
    rowError: /label '(rose|2)' is not a class of model 'iris' \(setosa, versicolor, virginica\)/,
  },
  {
    name: 'a value for a classifier',
    body: (ids) => [
      { prediction_id: ids.iris, label: 'setosa' },
      { prediction_id: ids.iris2, value: 1.5 },
    ],
    status: 400,
    error: /1 of 2/,
    rows: [1],
    rowError: /model 'iris' is a classifier: send "label", not "value"/,
  },
  {
    name: 'a label for a regressor',
    body: (ids) => [
      { prediction_id: ids.reg, value: 2.5 },
      { prediction_id: ids.reg2, label: 'high' },
    ],
    status: 400,
    error: /1 of 2/,
    rows: [1],
    rowError: /model 'reg' is a regressor: send "value", not "label"/,
  },
  {
    name: 'ids that are not UUIDs',
    body: (ids) => [
      { prediction_id: ids.iris, label: 'setosa' },
      { prediction_id: 'prediction-1', label: 'setosa' },
      { prediction_id: 42, label: 'setosa' },
      { label: 'setosa' },
    ],
    status: 400,
    error: /3 of 4/,
    rows: [1, 2, 3],
    rowError: /prediction_id must be the UUID returned with the prediction/,
  },
  {
    name: 'NaN-ish values as strings',
    body: (ids) => [
      { prediction_id: ids.reg, value: 1 },
      { prediction_id: ids.reg2, value: 'NaN' },
      { prediction_id: ids.reg3, value: 'Infinity' },
      { prediction_id: ids.reg4, value: '1e999' },
      { prediction_id: ids.iris, value: '-inf' },
    ],
    status: 400,
    error: /4 of 5/,
    rows: [1, 2, 3, 4],
    rowError: /value must be a finite number/,
  },
  {
    name: 'unknown fields',
    body: (ids) => [
      { prediction_id: ids.iris, label: 'setosa' },
      {
        prediction_id: ids.iris2,
        label: 'setosa',
        confidence: 0.9,
        "'; DROP TABLE feedback; --": 1,
      },
    ],
    status: 400,
    error: /1 of 2/,
    rows: [1],
    rowError: /unknown field\(s\): confidence, '; DROP TABLE feedback; --/,
  },
  {
    name: 'both label and value, or neither',
    body: (ids) => [
      { prediction_id: ids.iris, label: 'setosa', value: 1 },
      { prediction_id: ids.iris2 },
      { prediction_id: ids.reg, value: 3 },
    ],
    status: 400,
    error: /2 of 3/,
    rows: [0, 1],
    rowError: /give exactly one of "label" \(classification\) or "value" \(regression\)/,
  },
  {
    name: 'rows that are not objects',
    body: (ids) => [{ prediction_id: ids.iris, label: 'setosa' }, 'setosa', null, 7, [ids.iris2]],
    status: 400,
    error: /4 of 5/,
    rows: [1, 2, 3, 4],
    rowError: /row must be an object/,
  },
  {
    name: 'labels of the wrong type',
    body: (ids) => [
      { prediction_id: ids.iris, label: true },
      { prediction_id: ids.iris2, label: { name: 'setosa' } },
      { prediction_id: ids.reg, label: '' },
      { prediction_id: ids.reg2, label: 1.5 },
      { prediction_id: ids.reg3, value: 4 },
    ],
    status: 400,
    error: /4 of 5/,
    rows: [0, 1, 2, 3],
    rowError: /label must be a non-empty string \(≤ 256 chars\) or an integer class/,
  },
  {
    name: 'a timestamp in the future or unreadable',
    body: (ids) => [
      { prediction_id: ids.iris, label: 'setosa', ts: Date.now() + 10 * 86_400_000 },
      { prediction_id: ids.iris2, label: 'setosa', ts: 'yesterday' },
      { prediction_id: ids.reg, value: 3, ts: '2024-01-15T12:00:00Z' },
    ],
    status: 400,
    error: /2 of 3/,
    rows: [0, 1],
    rowError: /ts must be milliseconds since the epoch or an ISO date, not in the future/,
  },
];

describe('POST /v1/feedback', () => {
  let server: TestServer;
  let store: AnalyticsStore;
  let writer: PredictionWriter;
  let irisIds: string[] = [];
  let regIds: string[] = [];
  const from = Date.now() - 60_000;

  const feedbackRows = async (): Promise<number> => (await store.rowCounts()).feedback;
  const spooled = (): number => writer.metrics().tables.feedback.recordsSpooled;

  beforeAll(async () => {
    server = await startTestServer({ ARGUS_LOG_FLUSH_MS: '50' });
    store = server.running.app.get<AnalyticsStore>(ANALYTICS_STORE);
    writer = server.running.app.get(PredictionWriter);
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
    const iris = await server.request('POST', '/v1/models/iris/predict', {
      json: {
        instances: Array.from({ length: 60 }, (_, i) => [5 + (i % 9) / 5, 3, 1.4 + (i % 5), 0.2]),
      },
    });
    const reg = await server.request('POST', '/v1/models/reg/predict', {
      json: { instances: Array.from({ length: 80 }, (_, i) => [i, 1, 2]) },
    });
    expect([iris.status, reg.status]).toEqual([200, 200]);
    irisIds = (iris.body as { prediction_ids: string[] }).prediction_ids;
    regIds = (reg.body as { prediction_ids: string[] }).prediction_ids;
  }, 90_000);

  afterAll(async () => {
    await server?.close();
  });

  it('accepts a valid batch and stores it', async () => {
    const body = [
      ...irisIds
        .slice(0, 3)
        .map((id, i) => ({ prediction_id: id, label: CLASSIFIER_META.class_names[i] })),
      { prediction_id: irisIds[3], label: 'virginica', source: 'labeling-team' },
      { prediction_id: regIds[0], value: 12.5, ts: Date.now() - 1000 },
    ];
    const res = await server.request('POST', '/v1/feedback', { json: body });
    expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { accepted: 5 } });
    const labeled = await eventually('the labels in the store', async () => {
      const rows = await store.labeledPredictions({ model: 'iris', from, to: Date.now() + 60_000 });
      return rows.length === 4 ? rows : undefined;
    });
    expect(new Map(labeled.map((r) => [r.id, r.actual_label]))).toEqual(
      new Map([
        [irisIds[0], 'setosa'],
        [irisIds[1], 'versicolor'],
        [irisIds[2], 'virginica'],
        [irisIds[3], 'virginica'],
      ]),
    );
    const [reg] = await store.labeledPredictions({ model: 'reg', from, to: Date.now() + 60_000 });
    expect(reg).toMatchObject({ id: regIds[0], actual_value: 12.5 });
    expect(await feedbackRows()).toBe(5);

    // Quality reads `labeled_predictions`, written from the prediction the service looked up
    // (carried through the writer as FeedbackRecord.prediction): the same as the join.
    const query = {
      model: 'iris',
      from,
      to: Date.now() + 60_000,
      classNames: CLASSIFIER_META.class_names,
      topScoreBins: 10,
    };
    const counts = (rows: { label: string; actual_label: string; count: number }[]) =>
      rows.map((r) => `${r.label}>${r.actual_label}:${r.count}`).sort();
    const quality = await store.monitoringQualityAggregates(query);
    expect(counts(quality.labels)).toEqual(counts(await store.monitoringLabelAggregates(query)));
    expect(quality.labels.reduce((sum, r) => sum + r.count, 0)).toBe(4);
  });

  describe('refuses bad requests whole', () => {
    let next = { iris: 10, reg: 10 };
    const fresh = (): Ids => {
      const ids = {
        iris: irisIds[next.iris],
        iris2: irisIds[next.iris + 1],
        iris3: irisIds[next.iris + 2],
        reg: regIds[next.reg],
        reg2: regIds[next.reg + 1],
        reg3: regIds[next.reg + 2],
        reg4: regIds[next.reg + 3],
      };
      next = { iris: next.iris + 3, reg: next.reg + 4 };
      return ids;
    };

    it.each(BAD_CASES)('$name → $status', async (bad) => {
      const ids = fresh();
      const body = bad.body(ids);
      const spooledBefore = spooled();
      const res: HttpResult =
        typeof body === 'string'
          ? await server.request('POST', '/v1/feedback', {
              body,
              headers: { 'content-type': 'application/json' },
            })
          : await server.request('POST', '/v1/feedback', { json: body });
      expect(res.status).toBe(bad.status);
      const answer = res.body as Rejection;
      expect(answer.error).toMatch(bad.error);
      if (bad.rows) {
        expect((answer.rows ?? []).map((r) => r.index)).toEqual(bad.rows);
        for (const row of answer.rows ?? []) expect(row.error).toMatch(bad.rowError!);
        // Rows with a readable id name it, so the client can find them.
        const sent = body as Array<{ prediction_id?: unknown }>;
        for (const row of answer.rows ?? []) {
          const id = sent[row.index]?.prediction_id;
          if (typeof id === 'string' && /^[0-9a-f-]{36}$/i.test(id))
            expect(row.prediction_id).toBe(id.toLowerCase());
        }
      }
      // Nothing of the request was handed to the writer, so nothing can be half-written.
      expect(spooled()).toBe(spooledBefore);
      const labeled = await store.labeledPredictions({
        model: 'iris',
        from,
        to: Date.now() + 60_000,
      });
      const unlabeled = new Set([ids.iris, ids.iris2, ids.iris3]);
      expect(labeled.filter((r) => unlabeled.has(r.id))).toEqual([]);
    });

    it('wrote nothing of any refused request', async () => {
      await writer.flush();
      await eventually('the feedback spool to drain', async () =>
        writer.feedback.spool.stats().unacknowledgedBytes === 0 ? true : undefined,
      );
      expect(spooled()).toBe(5);
      expect(await feedbackRows()).toBe(5);
      const to = Date.now() + 60_000;
      expect(await store.labeledPredictions({ model: 'iris', from, to })).toHaveLength(4);
      expect(await store.labeledPredictions({ model: 'reg', from, to })).toHaveLength(1);
      expect((await server.request('GET', '/v2/health/live')).status).toBe(200);
    });
  });
});
