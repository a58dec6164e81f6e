import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { StoreKind } from '../../../src/store';
import { freshClickHouseDatabase, TestDatabase } from '../../harness/clickhouse';
import { irisLikeClassifier } from '../../fixtures/models';
import {
  eventually,
  registerOk,
  startTestServer,
  tempHome,
  TestServer,
  waitChampionReady,
} from '../../e2e/helpers';
import {
  clickhouseRows,
  duckDbRows,
  HOSTILE,
  irisRows,
  storeOf,
  tsvUnescape,
  writerOf,
} from './support';

/**
 * Hostile names and labels end to end, on both stores: feature names, class names (so predicted
 * labels), feedback labels and caller-chosen model names full of quotes, backslashes, newlines,
 * tabs, unicode and SQL fragments go through predict, feedback and every query, and come back
 * exactly as sent. Nothing breaks, nothing is dropped.
 */

/** Model names are restricted to [A-Za-z0-9_.-]; this one uses every allowed kind of character. */
const MODEL = 'Weird.Name-1_x';
const FEATURES = [HOSTILE.sql, HOSTILE.quotes, HOSTILE.whitespace, HOSTILE.unicode];
const CLASSES = [HOSTILE.sql, HOSTILE.backslash, HOSTILE.placeholders];
/** Unknown model names a caller can put in a URL: logged as failed requests, verbatim. */
const UNKNOWN_MODELS = [HOSTILE.sql, HOSTILE.quotes, HOSTILE.whitespace, HOSTILE.unicode];

interface V1Answer {
  prediction_ids: string[];
  predictions: Array<{ label: string }>;
}

describe.each<StoreKind>(['clickhouse', 'duckdb'])('hostile names on %s', (kind) => {
  let server: TestServer | undefined;
  let database: TestDatabase | undefined;
  let home: string;
  const from = Date.now() - 60_000;

  beforeAll(async () => {
    home = tempHome('argus-injection-');
    const env: Record<string, string> = {};
    if (kind === 'clickhouse') {
      database = await freshClickHouseDatabase('injection');
      env.CLICKHOUSE_URL = database.url;
      env.CLICKHOUSE_USER = database.user;
      env.CLICKHOUSE_PASSWORD = database.password;
      env.CLICKHOUSE_DATABASE = database.database;
    }
    server = await startTestServer({ ...env, ARGUS_LOG_FLUSH_MS: '50' }, home);
    await registerOk(server, MODEL, irisLikeClassifier(), {
      metadata: { task: 'classification', feature_names: FEATURES, class_names: CLASSES },
      alias: 'champion',
    });
    await waitChampionReady(server, MODEL);
  }, 90_000);

  afterAll(async () => {
    await server?.close();
    await database?.drop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('predicts, takes feedback and answers queries with every string verbatim', async () => {
    const s = server!;
    const path = `/v1/models/${MODEL}/predict`;
    // Rows keyed by the hostile feature names.
    const instances = irisRows(30, 3).map((row) =>
      Object.fromEntries(FEATURES.map((name, i) => [name, row[i]])),
    );
    const ok = await s.request('POST', path, { json: { instances } });
    expect(ok.status).toBe(200);
    const answer = ok.body as V1Answer;
    expect(answer.prediction_ids).toHaveLength(30);
    for (const p of answer.predictions) expect(CLASSES).toContain(p.label);

    // Failed requests: a hostile unknown feature, and unknown hostile model names in the URL.
    const badFeature = await s.request('POST', path, {
      json: { instances: [{ ...instances[0], [HOSTILE.backslash]: 1 }] },
    });
    expect(badFeature.status).toBe(400);
    const badFeatureError = (badFeature.body as { error: string }).error;
    expect(badFeatureError).toContain(HOSTILE.backslash);
    const unknownErrors = new Map<string, { status: number; error: string }>();
    for (const name of UNKNOWN_MODELS) {
      const res = await s.request('POST', `/v1/models/${encodeURIComponent(name)}/predict`, {
        json: { instances: [[1, 2, 3, 4]] },
      });
      expect([400, 404]).toContain(res.status);
      unknownErrors.set(name, { status: res.status, error: (res.body as { error: string }).error });
    }

    // Ground truth: every hostile class name as a label; a hostile non-class label is refused.
    const sent = new Map<string, string>();
    const rows = answer.prediction_ids.map((id, i) => {
      const label = CLASSES[i % CLASSES.length];
      sent.set(id, label);
      return { prediction_id: id, label };
    });
    const refused = await s.request('POST', '/v1/feedback', {
      json: [{ prediction_id: answer.prediction_ids[0], label: `${HOSTILE.sql}\\` }],
    });
    expect(refused.status).toBe(400);
    expect(refused.text).toContain(JSON.stringify(`${HOSTILE.sql}\\`).slice(1, -1));
    const accepted = await s.request('POST', '/v1/feedback', { json: rows });
    expect({ status: accepted.status, body: accepted.body }).toEqual({
      status: 200,
      body: { accepted: 30 },
    });

    const store = storeOf(s);
    const to = Date.now() + 60_000;
    const labeled = await eventually('labeled predictions', async () => {
      await writerOf(s).flush();
      const found = await store.labeledPredictions({ model: MODEL, from, to });
      return found.length === 30 ? found : undefined;
    });
    const predicted = new Map(answer.prediction_ids.map((id, i) => [id, answer.predictions[i]]));
    for (const row of labeled) {
      expect(row.model).toBe(MODEL);
      expect(row.label).toBe(predicted.get(row.id)?.label);
      expect(row.actual_label).toBe(sent.get(row.id));
    }

    const pairs = await store.labelPairCounts({ model: MODEL, from, to });
    expect(pairs.reduce((n, p) => n + p.count, 0)).toBe(30);
    expect(new Set(pairs.map((p) => p.actual_label))).toEqual(new Set(CLASSES));
    for (const p of pairs) expect(CLASSES).toContain(p.label);

    const lookups = await store.lookupPredictions(answer.prediction_ids);
    expect(lookups.size).toBe(30);
    for (const [id, summary] of lookups) {
      expect(summary.model).toBe(MODEL);
      expect(summary.label).toBe(predicted.get(id)?.label);
    }

    const counts = await store.countPredictions({ model: MODEL });
    expect(counts.map((c) => [c.status, c.count])).toEqual([
      [200, 30],
      [400, 1],
    ]);
    for (const name of UNKNOWN_MODELS) {
      const [count] = await store.countPredictions({ model: name, from, to });
      expect({ name, model: count?.model, status: count?.status, count: count?.count }).toEqual({
        name,
        model: name,
        status: unknownErrors.get(name)?.status,
        count: 1,
      });
    }
    // No statement broke a table.
    expect((await store.rowCounts()).predictions).toBeGreaterThanOrEqual(
      30 + 1 + UNKNOWN_MODELS.length,
    );

    // The error column, read around the store code: the message as the client got it.
    const expectedErrors = new Map<string, string>([
      [MODEL, badFeatureError],
      ...[...unknownErrors].map(([name, e]): [string, string] => [name, e.error]),
    ]);
    let failed: Array<{ model: string; error: string }>;
    if (kind === 'clickhouse') {
      failed = (
        await clickhouseRows(
          database!.url,
          `SELECT model, error FROM ${database!.database}.predictions WHERE status >= 400`,
        )
      ).map(([model, error]) => ({ model: tsvUnescape(model), error: tsvUnescape(error) }));
    } else {
      await s.close();
      server = undefined;
      failed = (
        await duckDbRows(
          join(home, 'argus.duckdb'),
          'SELECT model, error FROM predictions WHERE status >= 400',
        )
      ).map((r) => ({ model: String(r.model), error: String(r.error) }));
    }
    expect(new Map(failed.map((f) => [f.model, f.error]))).toEqual(expectedErrors);
  }, 90_000);
});
