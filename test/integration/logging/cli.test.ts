import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDbStore } from '../../../src/store';
import { ClickHouseStore } from '../../../src/store/clickhouse-store';
import { freshClickHouseDatabase, TestDatabase } from '../../harness/clickhouse';
import { CLASSIFIER_META, irisLikeClassifier, linearRegressor } from '../../fixtures/models';
import { CliResult, ensureBuilt, runCli, startTestServer, tempHome, UUID } from '../../e2e/helpers';
import { clickhouseRows, duckDbRows } from './support';

/**
 * The prediction-log commands of the real `argus` binary: `migrate`, `predict --log` and
 * `feedback --file`, on the default DuckDB store and on ClickHouse.
 */

interface OfflinePrediction {
  prediction_id: string;
  label?: string;
  value?: number;
}

function readJsonl(path: string): OfflinePrediction[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as OfflinePrediction);
}

const FEATURES = CLASSIFIER_META.feature_names;

describe('argus CLI: migrate, predict --log, feedback', () => {
  let home: string;
  let work: string;
  const file = (name: string) => join(work, name);
  const argus = (...args: string[]): Promise<CliResult> => runCli(['--home', home, ...args]);

  beforeAll(async () => {
    ensureBuilt();
    home = tempHome('argus-cli-log-home-');
    work = tempHome('argus-cli-log-files-');
    writeFileSync(file('iris.onnx'), irisLikeClassifier());
    writeFileSync(file('meta.json'), JSON.stringify(CLASSIFIER_META));
    writeFileSync(file('reg.onnx'), linearRegressor());
    writeFileSync(
      file('rows.csv'),
      [
        FEATURES.join(','),
        ...Array.from({ length: 25 }, (_, i) =>
          [4.5 + (i % 10) / 5, 3 + (i % 4) / 4, 1 + (i % 7) * 0.8, 0.2 + (i % 5) * 0.5].join(','),
        ),
      ].join('\n') + '\n',
    );
    writeFileSync(file('reg.csv'), 'a,b,c\n1,2,3\n0.5,0.5,0.5\n');
    for (const [name, model, meta] of [
      ['iris', 'iris.onnx', 'meta.json'],
      ['reg', 'reg.onnx', undefined],
    ] as const) {
      const args = ['models', 'register', '--name', name, '--file', file(model)];
      if (meta) args.push('--metadata', file(meta));
      const res = await argus(...args, '--alias', 'champion');
      expect(res.code).toBe(0);
    }
  }, 120_000);

  afterAll(() => {
    for (const dir of [home, work]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('explains the new commands in --help', async () => {
    const [top, migrate, feedback, predict] = await Promise.all([
      runCli(['--help']),
      runCli(['migrate', '--help']),
      runCli(['feedback', '--help']),
      runCli(['predict', '--help']),
    ]);
    expect(top.stdout).toMatch(/migrate\s+apply pending migrations/);
    expect(top.stdout).toMatch(/feedback \[options\]\s+import ground-truth labels/);
    // Commander wraps descriptions at the terminal's width: compare the words, not the lines.
    const migrateHelp = migrate.stdout.replace(/\s+/g, ' ');
    expect(migrateHelp).toContain('a progress line every second while a statement runs longer');
    expect(migrateHelp).toContain('exit 2 if an applied migration was edited');
    expect(feedback.stdout).toContain('--file <labels.csv|labels.jsonl>');
    expect(predict.stdout).toContain('--log');
    for (const res of [top, migrate, feedback, predict]) expect(res.code).toBe(0);
  });

  it('migrate: one line per migration and a summary; refuses an edited migration (exit 2)', async () => {
    const first = await argus('migrate');
    expect(first.code).toBe(0);
    expect(first.stdout.split('\n').filter((l) => l !== '')).toEqual([
      `migrating DuckDB ${join(home, 'argus.duckdb')}`,
      expect.stringMatching(/^migration 0001_init\.sql: applied \(\d+ statements, \d+ ms\)$/),
      expect.stringMatching(
        /^migration 0002_prediction_aggregates\.sql: applied \(\d+ statements, \d+ ms\)$/,
      ),
      expect.stringMatching(
        /^migration 0003_labeled_predictions\.sql: applied \(\d+ statements, \d+ ms\)$/,
      ),
      expect.stringMatching(
        /^migration 0004_predictions_without_primary_key\.sql: applied \(\d+ statements, \d+ ms\)$/,
      ),
      expect.stringMatching(/^4 migration\(s\) applied, 0 already applied, in [\d.]+ s$/),
    ]);
    const again = await argus('migrate');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('migration 0001_init.sql: already applied');
    expect(again.stdout).toMatch(/0 migration\(s\) applied, 4 already applied/);

    // What an edited file looks like to the runner: the recorded checksum no longer matches.
    const path = join(home, 'argus.duckdb');
    const [{ checksum }] = await duckDbRows(
      path,
      "SELECT checksum FROM schema_migrations WHERE name = '0001_init.sql'",
    );
    await duckDbRows(
      path,
      "UPDATE schema_migrations SET checksum = 'edited' WHERE name = '0001_init.sql' RETURNING name",
    );
    const refused = await argus('migrate');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /migration 0001_init\.sql was edited after it was applied \(applied sha256 edited, file now [0-9a-f]{64}\)/,
    );
    await duckDbRows(
      path,
      `UPDATE schema_migrations SET checksum = '${String(checksum)}' WHERE name = '0001_init.sql' RETURNING name`,
    );
    expect((await argus('migrate')).code).toBe(0);
  });

  it('predict --log stores every prediction under the ids of the output file', async () => {
    const res = await argus(
      'predict',
      '--model',
      'iris',
      '--input',
      file('rows.csv'),
      '--output',
      file('out.jsonl'),
      '--chunk-rows',
      '10',
      '--log',
    );
    expect(res.code).toBe(0);
    expect(res.stderr).toMatch(/25 rows predicted by iris@1 .*; 25 logged/);
    const out = readJsonl(file('out.jsonl'));
    expect(out).toHaveLength(25);
    for (const p of out) expect(p.prediction_id).toMatch(UUID);

    const reg = await argus(
      'predict',
      '--model',
      'reg',
      '--input',
      file('reg.csv'),
      '--output',
      file('reg.jsonl'),
      '--log',
    );
    expect(reg.code).toBe(0);
    const regOut = readJsonl(file('reg.jsonl'));

    const store = await DuckDbStore.open({ path: join(home, 'argus.duckdb') });
    try {
      const found = await store.lookupPredictions(out.map((p) => p.prediction_id));
      expect(found.size).toBe(25);
      for (const p of out)
        expect(found.get(p.prediction_id)).toMatchObject({ model: 'iris', label: p.label });
      const regFound = await store.lookupPredictions(regOut.map((p) => p.prediction_id));
      expect(regOut.map((p) => regFound.get(p.prediction_id)?.value)).toEqual(
        regOut.map((p) => expect.closeTo(p.value!, 5) as unknown),
      );
      expect(
        (await store.countPredictions({ route: 'cli' })).map((c) => [c.model, c.status, c.count]),
      ).toEqual([
        ['iris', 200, 25],
        ['reg', 200, 2],
      ]);
    } finally {
      await store.close();
    }
    const raw = await duckDbRows(
      join(home, 'argus.duckdb'),
      "SELECT DISTINCT route, protocol, len(scores) AS scores, batch_size <= 10 AS chunked FROM predictions WHERE model = 'iris'",
    );
    expect(raw).toEqual([{ route: 'cli', protocol: 'cli', scores: 3n, chunked: true }]);
  });

  it('feedback --file: bad rows are listed by line (exit 2) and nothing is written; then a clean file is accepted', async () => {
    const out = readJsonl(file('out.jsonl'));
    const reg = readJsonl(file('reg.jsonl'));
    const id = (i: number) => out[i].prediction_id;
    writeFileSync(
      file('bad.csv'),
      [
        'prediction_id,label,value',
        `${id(0)},setosa,`,
        `${id(1)},"two-line`,
        `label",`,
        `00000000-0000-4000-8000-000000000000,setosa,`,
        `${id(2)},,1.5`,
        `${reg[0].prediction_id},setosa,`,
        `${id(0)},versicolor,`,
        `not-a-uuid,setosa,`,
        `${id(3)},virginica,`,
      ].join('\n') + '\n',
    );
    const bad = await argus('feedback', '--file', file('bad.csv'));
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    const listed = bad.stderr
      .split('\n')
      .filter((l) => /^ {2}line \d+:/.test(l))
      .map((l) => Number(/line (\d+)/.exec(l)![1]));
    expect(bad.stderr).toMatch(
      /^error: 6 of 8 feedback rows in .*bad\.csv are invalid; nothing was written:/,
    );
    expect(listed).toEqual([3, 5, 6, 7, 8, 9]);
    expect(bad.stderr).toContain('line 5: unknown prediction id');
    expect(bad.stderr).toContain("line 6: model 'iris' is a classifier");
    expect(bad.stderr).toContain("line 7: model 'reg' is a regressor");
    expect(bad.stderr).toContain('line 8: duplicate of line 2');

    writeFileSync(
      file('bad.jsonl'),
      `${JSON.stringify({ prediction_id: id(0), label: 'setosa' })}\n{"prediction_id": \n`,
    );
    const badJsonl = await argus('feedback', '--file', file('bad.jsonl'));
    expect(badJsonl.code).toBe(2);
    expect(badJsonl.stderr).toContain('line 2: not valid JSON');

    const unknownColumn = await argus('feedback', '--file', file('rows.csv'));
    expect(unknownColumn.code).toBe(2);
    expect(unknownColumn.stderr).toMatch(/rows\.csv:1: unknown column\(s\) sepal_length/);

    const before = await duckDbRows(
      join(home, 'argus.duckdb'),
      'SELECT count(*) AS n FROM feedback',
    );
    expect(before).toEqual([{ n: 0n }]);

    // A clean CSV (labels as written, quoted newline included) and a clean JSONL.
    writeFileSync(
      file('labels.csv'),
      [
        'prediction_id,label,ts,source',
        ...out
          .slice(0, 20)
          .map((p, i) => `${p.prediction_id},${['setosa', 'versicolor', 'virginica'][i % 3]},,`),
      ].join('\r\n') + '\r\n',
    );
    const ok = await argus('feedback', '--file', file('labels.csv'));
    expect({ code: ok.code, stdout: JSON.parse(ok.stdout) as unknown }).toEqual({
      code: 0,
      stdout: { accepted: 20 },
    });
    writeFileSync(
      file('labels.jsonl'),
      [
        ...out
          .slice(20)
          .map((p) =>
            JSON.stringify({ prediction_id: p.prediction_id, label: 'virginica', source: 'audit' }),
          ),
        '',
        ...reg.map((p) => JSON.stringify({ prediction_id: p.prediction_id, value: 7.25 })),
      ].join('\n'),
    );
    const okJsonl = await argus('feedback', '--file', file('labels.jsonl'));
    expect(okJsonl.code).toBe(0);
    expect(JSON.parse(okJsonl.stdout)).toEqual({ accepted: 7 });

    const stored = await duckDbRows(
      join(home, 'argus.duckdb'),
      'SELECT label, value, source, count(*) AS n FROM feedback GROUP BY ALL ORDER BY label, source',
    );
    expect(stored).toEqual([
      { label: '', value: 7.25, source: 'cli', n: 2n },
      { label: 'setosa', value: null, source: 'cli', n: 7n },
      { label: 'versicolor', value: null, source: 'cli', n: 7n },
      { label: 'virginica', value: null, source: 'audit', n: 5n },
      { label: 'virginica', value: null, source: 'cli', n: 6n },
    ]);
  });

  it('says so when a running server holds the DuckDB file, and points at the HTTP API', async () => {
    writeFileSync(
      file('one.jsonl'),
      JSON.stringify({
        prediction_id: readJsonl(file('out.jsonl'))[0].prediction_id,
        label: 'setosa',
      }) + '\n',
    );
    const server = await startTestServer({}, home);
    try {
      const res = await argus('feedback', '--file', file('one.jsonl'));
      expect(res.code).toBe(1);
      expect(res.stderr).toContain(
        `the embedded store ${join(home, 'argus.duckdb')} is in use by another process`,
      );
      expect(res.stderr).toContain(`PID ${process.pid}`);
      expect(res.stderr).toContain('DuckDB allows one writer process');
      expect(res.stderr).toContain('/v1/feedback');
      const predict = await argus(
        'predict',
        '--model',
        'iris',
        '--input',
        file('rows.csv'),
        '--output',
        file('x.jsonl'),
        '--log',
      );
      expect(predict.code).toBe(1);
      expect(predict.stderr).toContain('is in use by another process');
      expect(predict.stderr).toContain('without --log');
    } finally {
      await server.close();
    }
  }, 60_000);

  describe('on ClickHouse', () => {
    let db: TestDatabase;
    let env: Record<string, string>;
    beforeAll(async () => {
      db = await freshClickHouseDatabase('cli');
      env = {
        CLICKHOUSE_URL: db.url,
        CLICKHOUSE_USER: db.user,
        CLICKHOUSE_PASSWORD: db.password,
        CLICKHOUSE_DATABASE: db.database,
      };
    });
    afterAll(async () => {
      await db?.drop();
    });

    it('migrates, logs offline predictions and imports feedback', async () => {
      const run = (...args: string[]) => runCli(['--home', home, ...args], env);
      const migrated = await run('migrate');
      expect(migrated.code).toBe(0);
      expect(migrated.stdout).toContain(`migrating ClickHouse ${db.url}, database ${db.database}`);
      expect(migrated.stdout).toMatch(/migration 0001_init\.sql: applied/);

      const predicted = await run(
        'predict',
        '--model',
        'iris',
        '--input',
        file('rows.csv'),
        '--output',
        file('ch.jsonl'),
        '--log',
      );
      expect(predicted.code).toBe(0);
      const out = readJsonl(file('ch.jsonl'));
      const stored = await clickhouseRows(
        db.url,
        `SELECT toString(id), label, route, protocol FROM ${db.database}.predictions ORDER BY id`,
      );
      expect(new Map(stored.map(([id, label]) => [id, label]))).toEqual(
        new Map(out.map((p) => [p.prediction_id, p.label])),
      );
      expect(new Set(stored.map((r) => `${r[2]}/${r[3]}`))).toEqual(new Set(['cli/cli']));

      writeFileSync(
        file('ch-labels.jsonl'),
        out
          .map((p) => JSON.stringify({ prediction_id: p.prediction_id, label: 'setosa' }))
          .join('\n'),
      );
      const imported = await run('feedback', '--file', file('ch-labels.jsonl'));
      expect(imported.code).toBe(0);
      expect(JSON.parse(imported.stdout)).toEqual({ accepted: 25 });
      const store = new ClickHouseStore({
        url: db.url,
        user: db.user,
        password: db.password,
        database: db.database,
      });
      try {
        const pairs = await store.labelPairCounts({
          model: 'iris',
          from: 0,
          to: Date.now() + 60_000,
        });
        expect(pairs.reduce((n, p) => n + p.count, 0)).toBe(25);
        expect(new Set(pairs.map((p) => p.actual_label))).toEqual(new Set(['setosa']));
      } finally {
        await store.close();
      }
    }, 60_000);
  });
});
