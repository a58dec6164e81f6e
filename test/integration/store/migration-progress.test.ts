import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClickHouseStore, StoreKind } from '../../../src/store';
import { clickhouseRows } from '../logging/support';
import { openStoreFixture, StoreFixture } from './support';

/**
 * A migration that copies a large table reports how far it is while it runs, read from the store
 * itself (DuckDB's query progress, ClickHouse's system.processes), instead of being silent for
 * minutes. The copies are big enough to run well past the 50 ms reporting interval used here.
 */
const SOURCE_ROWS: Record<StoreKind, number> = { duckdb: 3_000_000, clickhouse: 30_000_000 };

/** A committed source table, as `predictions` is when migration 0004 copies it. */
const SOURCE_MIGRATION: Record<StoreKind, string> = {
  duckdb: `CREATE TABLE progress_source AS SELECT range AS n, random() AS x FROM range(${SOURCE_ROWS.duckdb});
`,
  clickhouse: `CREATE TABLE IF NOT EXISTS progress_source (n UInt64, x UInt64) ENGINE = MergeTree ORDER BY n;
INSERT INTO progress_source SELECT number, intHash64(number) FROM numbers(${SOURCE_ROWS.clickhouse});
`,
};

const COPY_MIGRATION: Record<StoreKind, string> = {
  duckdb: `CREATE TABLE progress_copy AS SELECT n, x FROM progress_source ORDER BY x;
`,
  clickhouse: `CREATE TABLE IF NOT EXISTS progress_copy (n UInt64, x UInt64) ENGINE = MergeTree ORDER BY n;
INSERT INTO progress_copy SELECT n, x FROM progress_source WHERE x % 7 = 0;
`,
};

const FILE = '9001_copy_for_progress.sql';

describe.each<StoreKind>(['duckdb', 'clickhouse'])('%s migration progress', (kind) => {
  let fixture: StoreFixture;

  beforeAll(async () => {
    fixture = await openStoreFixture(kind, 'migration_progress');
    writeFileSync(
      join(fixture.migrationsDir, '9000_source_for_progress.sql'),
      SOURCE_MIGRATION[kind],
    );
    await fixture.store.migrate();
  });

  afterAll(async () => {
    await fixture.cleanup();
  });

  it('reports rows read while a long statement runs, then the applied migration', async () => {
    writeFileSync(join(fixture.migrationsDir, FILE), COPY_MIGRATION[kind]);
    const lines: string[] = [];
    const report = await fixture.store.migrate((line) => lines.push(line), {
      progressIntervalMs: 50,
    });
    expect(report.applied).toEqual([FILE]);

    const last = kind === 'duckdb' ? '1/1' : '2/2';
    const progress = lines.filter((l) => l.startsWith(`migration ${FILE}: statement ${last}, `));
    const withRows = progress
      .map((l) => /, ([\d,]+) (?:of ([\d,]+) )?rows read/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({
        read: Number(m[1].replace(/,/g, '')),
        total: Number((m[2] ?? '0').replace(/,/g, '')),
      }));
    expect(withRows.length).toBeGreaterThan(0);
    // Real figures from the store: something read, never more than the source (plus the
    // estimate's slack for ClickHouse), and a total that is the source's size when given.
    const sourceRows = SOURCE_ROWS[kind];
    expect(Math.max(...withRows.map((r) => r.read))).toBeGreaterThan(0);
    for (const r of withRows) {
      expect(r.read).toBeLessThanOrEqual(sourceRows * 1.1);
      if (r.total > 0) expect(r.total).toBeGreaterThanOrEqual(sourceRows * 0.9);
    }
    // The progress lines come before the line that says the migration was applied.
    const appliedAt = lines.findIndex((l) => l.startsWith(`migration ${FILE}: applied`));
    expect(appliedAt).toBeGreaterThan(lines.indexOf(progress[progress.length - 1]));
  });
});

describe('ClickHouse migration statements and the request timeout', () => {
  let fixture: StoreFixture;

  beforeAll(async () => {
    fixture = await openStoreFixture('clickhouse', 'migration_timeout');
    writeFileSync(
      join(fixture.migrationsDir, '9000_source_for_progress.sql'),
      SOURCE_MIGRATION.clickhouse,
    );
    await fixture.store.migrate();
  });

  afterAll(async () => {
    await fixture.cleanup();
  });

  it('a copy that outlasts the write path’s request timeout still applies, once', async () => {
    if (!('database' in fixture.location)) throw new Error('a ClickHouse fixture has a database');
    const db = fixture.location.database;
    // Every other request of this store gives up after 200 ms; the copy takes seconds.
    const impatient = new ClickHouseStore({
      url: db.url,
      user: db.user,
      password: db.password,
      database: db.database,
      migrationsDir: fixture.migrationsDir,
      requestTimeoutMs: 200,
    });
    try {
      writeFileSync(join(fixture.migrationsDir, FILE), COPY_MIGRATION.clickhouse);
      const lines: string[] = [];
      const started = Date.now();
      const report = await impatient.migrate((line) => lines.push(line), {
        progressIntervalMs: 100,
      });
      expect(report.applied).toEqual([FILE]);
      expect(Date.now() - started).toBeGreaterThan(200);
      expect(lines.some((l) => / rows read /.test(l))).toBe(true);
      // Applied once: the copy holds the source's multiples of 7 exactly once each.
      const [[rows, ids]] = await clickhouseRows(
        db.url,
        `SELECT count(), uniqExact(n) FROM ${db.database}.progress_copy`,
      );
      expect(Number(rows)).toBe(Number(ids));
      expect(Number(rows)).toBeGreaterThan(SOURCE_ROWS.clickhouse / 8);
    } finally {
      await impatient.close();
    }
  });
});
