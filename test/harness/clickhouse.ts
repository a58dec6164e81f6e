import { createClient } from '@clickhouse/client';
import { randomBytes } from 'node:crypto';
import { bindSql, identifier } from '../../src/store/sql-escape';
import { ClickHouseServer, ClickHouseServerOptions } from './clickhouse-server';

/**
 * What test files use to reach ClickHouse. global-setup.ts starts one server for the whole jest run
 * (or takes `CLICKHOUSE_URL`) and publishes it in `ARGUS_TEST_CLICKHOUSE_*`; each test file takes a
 * fresh database on it, so files can run in parallel workers without seeing each other's rows.
 */

export const TEST_URL_ENV = 'ARGUS_TEST_CLICKHOUSE_URL';
export const TEST_USER_ENV = 'ARGUS_TEST_CLICKHOUSE_USER';
export const TEST_PASSWORD_ENV = 'ARGUS_TEST_CLICKHOUSE_PASSWORD';

export interface ClickHouseEndpoint {
  url: string;
  user: string;
  password: string;
}

/** The server of this jest run. */
export function sharedClickHouse(): ClickHouseEndpoint {
  const url = process.env[TEST_URL_ENV];
  if (!url) {
    throw new Error(
      `${TEST_URL_ENV} is not set: test/harness/global-setup.ts did not run (run tests through jest)`,
    );
  }
  return {
    url,
    user: process.env[TEST_USER_ENV] ?? 'default',
    password: process.env[TEST_PASSWORD_ENV] ?? '',
  };
}

export interface TestDatabase extends ClickHouseEndpoint {
  database: string;
  /** Drops the database. Call in afterAll. */
  drop(): Promise<void>;
}

/**
 * A new, empty, uniquely named database on `endpoint` (default: the shared server). The name is
 * `argus_test_<label>_<random>`; `label` is reduced to identifier characters.
 */
export async function freshClickHouseDatabase(
  label = 'db',
  endpoint: ClickHouseEndpoint = sharedClickHouse(),
): Promise<TestDatabase> {
  const safeLabel = label.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 40);
  const database = `argus_test_${safeLabel}_${randomBytes(6).toString('hex')}`;
  await runCommand(endpoint, 'CREATE DATABASE {database}', database);
  return {
    ...endpoint,
    database,
    drop: () => runCommand(endpoint, 'DROP DATABASE IF EXISTS {database}', database),
  };
}

async function runCommand(
  endpoint: ClickHouseEndpoint,
  template: string,
  database: string,
): Promise<void> {
  const client = createClient({
    url: endpoint.url,
    username: endpoint.user,
    password: endpoint.password,
  });
  try {
    await client.command({
      query: bindSql('clickhouse', template, { database: identifier(database) }).text,
    });
  } finally {
    await client.close();
  }
}

/**
 * An extra private server for one test file: SIGKILL it with `kill()`, bring it back on the same
 * data directory and ports with `start()`, and `dispose()` it in afterAll (deletes its directory).
 */
export function startPrivateClickHouse(
  options: ClickHouseServerOptions = {},
): Promise<ClickHouseServer> {
  return ClickHouseServer.start(options);
}

export { ClickHouseServer } from './clickhouse-server';
