import { ClickHouseServer } from './clickhouse-server';
import { TEST_PASSWORD_ENV, TEST_URL_ENV, TEST_USER_ENV } from './clickhouse';

/** Handed from global setup to global teardown (both run in jest's parent process). */
export interface HarnessState {
  clickhouse?: ClickHouseServer;
}

export const HARNESS_STATE = Symbol.for('argus.test.harness');

/**
 * Jest global setup: starts the shared real services the integration tests need, once per run.
 *
 * ClickHouse: with `CLICKHOUSE_URL` set, that server is used (with `CLICKHOUSE_USER` /
 * `CLICKHOUSE_PASSWORD`); otherwise a private `clickhouse-server` starts on free loopback ports with
 * a temporary data directory. Test files find it through `ARGUS_TEST_CLICKHOUSE_*` (environment
 * set here reaches the workers), never through `CLICKHOUSE_URL`, so tests that load the service
 * configuration from the environment do not silently switch to ClickHouse.
 */
export default async function globalSetup(): Promise<void> {
  const state: HarnessState = {};
  (globalThis as Record<symbol, unknown>)[HARNESS_STATE] = state;

  const external = process.env.CLICKHOUSE_URL;
  if (external) {
    process.env[TEST_URL_ENV] = external;
    process.env[TEST_USER_ENV] = process.env.CLICKHOUSE_USER ?? 'default';
    process.env[TEST_PASSWORD_ENV] = process.env.CLICKHOUSE_PASSWORD ?? '';
    return;
  }
  state.clickhouse = await ClickHouseServer.start();
  process.env[TEST_URL_ENV] = state.clickhouse.url;
  process.env[TEST_USER_ENV] = 'default';
  process.env[TEST_PASSWORD_ENV] = '';
}
