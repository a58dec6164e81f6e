import { join } from 'node:path';
import { ArgusError, errorMessage } from '../common/errors';
import { ArgusConfig } from '../config';
import { AnalyticsStore, openAnalyticsStore, StoreUnavailableError } from '../store';

/** Where the configured analytical store is, for the CLI's messages. */
export function describeStore(config: ArgusConfig): string {
  const clickhouse = config.store.clickhouse;
  if (clickhouse !== undefined)
    return `ClickHouse ${clickhouse.url}, database ${clickhouse.database}`;
  return `DuckDB ${duckDbPath(config)}`;
}

export function duckDbPath(config: ArgusConfig): string {
  return join(config.home, 'argus.duckdb');
}

/** DuckDB's message when another process holds the database file. */
const DUCKDB_LOCKED = /Conflicting lock is held in (.+?) \(PID (\d+)\)/;

/**
 * The embedded DuckDB file allows one writer process. A running `argus serve` on the same
 * ARGUS_HOME holds it for as long as it runs; the CLI cannot open it meanwhile.
 */
export class StoreInUseError extends ArgusError {
  constructor(path: string, holder: string, pid: string, alternative: string) {
    super(
      'unavailable',
      `the embedded store ${path} is in use by another process (${holder}, PID ${pid}), ` +
        `probably a running \`argus serve\` on this ARGUS_HOME: DuckDB allows one writer process ` +
        `at a time. ${alternative}`,
    );
  }
}

/**
 * Opens the configured store for a CLI command. A DuckDB file held by another process becomes a
 * StoreInUseError naming the holder and `alternative` (what to do instead, e.g. the HTTP API).
 */
export async function openStoreForCli(
  config: ArgusConfig,
  alternative: string,
): Promise<AnalyticsStore> {
  try {
    return await openAnalyticsStore(config);
  } catch (err) {
    const locked = DUCKDB_LOCKED.exec(errorMessage(err));
    if (err instanceof StoreUnavailableError && locked !== null) {
      throw new StoreInUseError(duckDbPath(config), locked[1], locked[2], alternative);
    }
    throw err;
  }
}

/**
 * Runs `body` with the store open, migrated when the configuration says so (as `argus serve`
 * would at start), and closes it afterwards whatever happens.
 */
export async function withStore<T>(
  config: ArgusConfig,
  alternative: string,
  body: (store: AnalyticsStore) => Promise<T>,
): Promise<T> {
  const store = await openStoreForCli(config, alternative);
  try {
    if (config.store.migrateOnStart) await store.migrate();
    return await body(store);
  } finally {
    await store.close();
  }
}
