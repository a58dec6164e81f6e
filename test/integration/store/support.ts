import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FeedbackRecord } from '../../../src/predictions/prediction-record';
import { AnalyticsStore, StoredPrediction, StoreKind } from '../../../src/store';
import { ClickHouseStore } from '../../../src/store/clickhouse-store';
import { DuckDbStore } from '../../../src/store/duckdb-store';
import { DuckDbThreadStore } from '../../../src/store/duckdb-thread-store';
import { migrationsDirFor } from '../../../src/store/migrations';
import { freshClickHouseDatabase, TestDatabase } from '../../harness/clickhouse';

/**
 * A store of either kind on real storage: a fresh ClickHouse database on the shared test server,
 * or a DuckDB file in a temporary directory. Migrations come from a private copy of the package's
 * migrations so a test may edit them.
 */
export interface StoreFixture {
  kind: StoreKind;
  store: AnalyticsStore;
  migrationsDir: string;
  /** Where the data is, for tests that write to it the way an older version did. */
  location: { database: TestDatabase } | { duckDbPath: string };
  /** Closes `store` and opens a new one on the same database (a process restart). */
  reopen(): Promise<AnalyticsStore>;
  cleanup(): Promise<void>;
}

/**
 * The stores the contract runs against: each kind, and DuckDB on its own thread the way the
 * server opens it (`openAnalyticsStore`), whose calls and errors cross a thread boundary.
 */
export type StoreVariant = StoreKind | 'duckdb-thread';

export function variantKind(variant: StoreVariant): StoreKind {
  return variant === 'duckdb-thread' ? 'duckdb' : variant;
}

export async function openStoreFixture(
  variant: StoreVariant,
  label: string,
): Promise<StoreFixture> {
  const kind = variantKind(variant);
  const workDir = mkdtempSync(join(tmpdir(), `argus-store-${kind}-`));
  const migrationsDir = join(workDir, 'migrations');
  cpSync(migrationsDirFor(kind), migrationsDir, { recursive: true });

  let database: TestDatabase | undefined;
  let location: StoreFixture['location'];
  let open: () => Promise<AnalyticsStore>;
  if (kind === 'clickhouse') {
    const db = await freshClickHouseDatabase(label);
    database = db;
    location = { database: db };
    open = async () =>
      new ClickHouseStore({
        url: db.url,
        user: db.user,
        password: db.password,
        database: db.database,
        migrationsDir,
      });
  } else {
    const duckDbPath = join(workDir, 'argus.duckdb');
    location = { duckDbPath };
    open = () =>
      variant === 'duckdb-thread'
        ? DuckDbThreadStore.open({ path: duckDbPath, migrationsDir })
        : DuckDbStore.open({ path: duckDbPath, migrationsDir });
  }

  const fixture: StoreFixture = {
    kind,
    store: await open(),
    migrationsDir,
    location,
    reopen: async () => {
      await fixture.store.close();
      fixture.store = await open();
      return fixture.store;
    },
    cleanup: async () => {
      await fixture.store.close();
      await database?.drop();
      rmSync(workDir, { recursive: true, force: true });
    },
  };
  return fixture;
}

/** 2024-01-15 12:00:00.000 UTC: fixed so windows and buckets are predictable. */
export const BASE_TS = Date.UTC(2024, 0, 15, 12, 0, 0, 0);

export function prediction(overrides: Partial<StoredPrediction> = {}): StoredPrediction {
  return {
    id: randomUUID(),
    request_id: randomUUID(),
    ts: BASE_TS,
    model: 'iris',
    model_version: 1,
    route: 'champion',
    client_id: '',
    trace_id: '0af7651916cd43dd8448eb211c80319c',
    span_id: 'b7ad6b7169203331',
    inputs: [5.1, 3.5, 1.4, 0.2],
    scores: [0.9, 0.05, 0.05],
    label: 'setosa',
    value: null,
    latency_us: 1234,
    batch_size: 1,
    status: 200,
    error: '',
    protocol: 'v2',
    ...overrides,
  };
}

export function feedback(
  predictionId: string,
  label: string,
  ts: number,
  overrides: Partial<FeedbackRecord> = {},
): FeedbackRecord {
  return { prediction_id: predictionId, ts, label, value: null, source: 'api', ...overrides };
}

/** What a Float32 column gives back for a number. */
export function float32(values: ArrayLike<number>): number[] {
  return Array.from(values, (v) => Math.fround(v));
}

/**
 * Names an attacker or an unlucky user might choose: quotes, backslashes, newlines, tabs, SQL
 * fragments, placeholder look-alikes, unicode. They must be stored and found verbatim.
 */
export const HOSTILE_STRINGS = [
  "o'brien",
  'back\\slash',
  'trailing backslash \\',
  "\\'",
  'multi\nline\r\nname',
  'tab\tseparated',
  "'; DROP TABLE predictions; --",
  "x' OR '1'='1",
  '`backtick` "double"',
  '{model} {where}',
  'Ünïcødé 模型 🚀',
  'nul\0byte',
];
