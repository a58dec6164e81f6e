import { mkdirSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { duckDbRows } from '../logging/support';
import { openStoreFixture, prediction, StoreFixture } from './support';

/**
 * Migration 0004 (DuckDB): `predictions` loses its primary key (an ART index rewritten at every
 * checkpoint, which made inserts slower as the table grew); ids stay unique by the insert. An
 * existing file keeps every row and column through the rebuild, and inserts after it still store
 * each id once, a repeated batch included.
 */
describe('DuckDB predictions without a primary key (migration 0004)', () => {
  let fixture: StoreFixture;

  beforeEach(async () => {
    fixture = await openStoreFixture('duckdb', 'unkeyed');
  });

  afterEach(async () => {
    await fixture.cleanup();
  });

  it('keeps every stored row through the rebuild, and ids stay unique after it', async () => {
    const held = join(fixture.migrationsDir, '..', 'held');
    mkdirSync(held);
    const file = '0004_predictions_without_primary_key.sql';
    renameSync(join(fixture.migrationsDir, file), join(held, file));
    const before = await fixture.store.migrate();
    expect(before.applied).not.toContain(file);

    const rows = Array.from({ length: 3000 }, (_, i) =>
      prediction({ model: 'rebuilt', ts: 1_705_000_000_000 + i * 10, feature_bins: [i % 3] }),
    );
    await fixture.store.insertPredictions(rows);
    const dumped = async (): Promise<string[]> => {
      const path = join(fixture.migrationsDir, '..', 'argus.duckdb');
      await fixture.store.close();
      const out = await duckDbRows(
        path,
        `SELECT id::VARCHAR AS id, ts_ms, ts::VARCHAR AS ts, inputs::VARCHAR AS inputs,
                feature_bins::VARCHAR AS bins, scores::VARCHAR AS scores, label, status
         FROM predictions ORDER BY id`,
      );
      await fixture.reopen();
      return out.map((r) =>
        JSON.stringify(r, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v)),
      );
    };
    const stored = await dumped();
    expect(stored).toHaveLength(3000);

    renameSync(join(held, file), join(fixture.migrationsDir, file));
    expect((await fixture.store.migrate()).applied).toEqual([file]);
    expect(await dumped()).toEqual(stored);
    const constraints = await (async () => {
      const path = join(fixture.migrationsDir, '..', 'argus.duckdb');
      await fixture.store.close();
      const out = await duckDbRows(
        path,
        `SELECT constraint_type FROM duckdb_constraints() WHERE table_name = 'predictions'`,
      );
      await fixture.reopen();
      return out.map((r) => String(r.constraint_type));
    })();
    expect(constraints).not.toContain('PRIMARY KEY');

    // After the rebuild: a repeated batch, a batch mixing stored and new ids, a batch repeating
    // an id within itself: each id once.
    const fresh = Array.from({ length: 500 }, (_, i) =>
      prediction({ model: 'rebuilt', ts: 1_705_000_100_000 + i, feature_bins: [0] }),
    );
    await fixture.store.insertPredictions(rows.slice(0, 1000));
    await fixture.store.insertPredictions([...rows.slice(2500), ...fresh.slice(0, 250)]);
    await fixture.store.insertPredictions([...fresh.slice(250), fresh[300]]);
    const counts = await fixture.store.countPredictions({ model: 'rebuilt' });
    expect(counts.reduce((sum, c) => sum + c.count, 0)).toBe(3500);
    expect((await fixture.store.rowCounts()).predictions).toBe(3500);
    expect(readdirSync(fixture.migrationsDir)).toContain(file);
  });
});
