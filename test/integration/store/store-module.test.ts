import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigModule, loadConfig } from '../../../src/config';
import {
  ANALYTICS_STORE,
  AnalyticsStore,
  DuckDbStore,
  StoreModule,
  StoreQueryError,
  StoreUnavailableError,
} from '../../../src/store';
import { freePort } from '../../harness/clickhouse-server';
import { freshClickHouseDatabase, sharedClickHouse } from '../../harness/clickhouse';
import { prediction } from './support';

async function boot(env: Record<string, string>) {
  @Module({ imports: [ConfigModule.forRoot(loadConfig(env)), StoreModule] })
  class TestAppModule {}
  const app = await NestFactory.createApplicationContext(TestAppModule, { logger: false });
  return { app, store: app.get<AnalyticsStore>(ANALYTICS_STORE) };
}

describe('StoreModule', () => {
  let home: string;
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'argus-store-module-'));
  });
  afterEach(() => {
    rmSync(home, { recursive: true, force: true });
  });

  it('provides a migrated DuckDB store under ARGUS_HOME by default and closes it on shutdown', async () => {
    const { app, store } = await boot({ ARGUS_HOME: home });
    expect(store.kind).toBe('duckdb');
    expect(existsSync(join(home, 'argus.duckdb'))).toBe(true);
    await store.insertPredictions([prediction()]);
    expect(await store.countPredictions()).toHaveLength(1);
    await app.close();
    await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('provides a migrated ClickHouse store when CLICKHOUSE_URL is configured', async () => {
    const endpoint = sharedClickHouse();
    const db = await freshClickHouseDatabase('module');
    try {
      const { app, store } = await boot({
        ARGUS_HOME: home,
        CLICKHOUSE_URL: endpoint.url,
        CLICKHOUSE_USER: endpoint.user,
        CLICKHOUSE_PASSWORD: endpoint.password,
        CLICKHOUSE_DATABASE: db.database,
      });
      expect(store.kind).toBe('clickhouse');
      await store.insertPredictions([prediction()]);
      expect(await store.countPredictions()).toHaveLength(1);
      await app.close();
      await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
    } finally {
      await db.drop();
    }
  });

  it('leaves the schema alone when migrations at start are turned off', async () => {
    const { app, store } = await boot({ ARGUS_HOME: home, ARGUS_MIGRATE_ON_START: 'false' });
    await expect(store.countPredictions()).rejects.toBeInstanceOf(StoreQueryError);
    await app.close();
  });

  it('still starts when ClickHouse is unreachable, so writers can spool', async () => {
    const { app, store } = await boot({
      ARGUS_HOME: home,
      CLICKHOUSE_URL: `http://127.0.0.1:${await freePort()}`,
    });
    expect(store.kind).toBe('clickhouse');
    await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
    await app.close();
  });

  it('runs retention at start when ARGUS_RETENTION_DAYS is set', async () => {
    const now = Date.now();
    const seed = await DuckDbStore.open({ path: join(home, 'argus.duckdb') });
    await seed.migrate();
    await seed.insertPredictions([
      prediction({ model: 'ret', ts: now - 30 * 86_400_000 }),
      prediction({ model: 'ret', ts: now }),
    ]);
    await seed.close();

    const { app, store } = await boot({ ARGUS_HOME: home, ARGUS_RETENTION_DAYS: '7' });
    try {
      const deadline = Date.now() + 10_000;
      let total = 2;
      while (total !== 1 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        total = (await store.countPredictions({ model: 'ret' })).reduce((s, c) => s + c.count, 0);
      }
      expect(total).toBe(1);
    } finally {
      await app.close();
    }
  });
});
