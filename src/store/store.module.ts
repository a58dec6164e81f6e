import {
  Global,
  Logger,
  Module,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { join } from 'node:path';
import { ARGUS_CONFIG, ArgusConfig } from '../config';
import { errorMessage } from '../common/errors';
import { ANALYTICS_STORE, AnalyticsStore, StoreUnavailableError } from './analytics-store';
import { ClickHouseStore } from './clickhouse-store';
import { DuckDbThreadStore } from './duckdb-thread-store';

/** Retention runs this often; partitions are whole days, so hourly is plenty. */
const RETENTION_INTERVAL_MS = 60 * 60 * 1000;

/** While the store is unreachable at boot, migrations are retried this often. */
const MIGRATION_RETRY_MS = 5000;

/**
 * ClickHouse when `CLICKHOUSE_URL` is configured, otherwise DuckDB at `${ARGUS_HOME}/argus.duckdb`,
 * opened on a thread of its own (duckdb-thread-store.ts).
 */
export async function openAnalyticsStore(config: ArgusConfig): Promise<AnalyticsStore> {
  const clickhouse = config.store.clickhouse;
  if (clickhouse !== undefined) {
    return new ClickHouseStore({
      url: clickhouse.url,
      user: clickhouse.user,
      password: clickhouse.password,
      database: clickhouse.database,
    });
  }
  return DuckDbThreadStore.open({ path: join(config.home, 'argus.duckdb') });
}

/**
 * Applies migrations and schedules retention; closes the store at shutdown.
 *
 * Migrations run while the store provider is built, so every provider that injects
 * `ANALYTICS_STORE` gets a migrated store. If the store cannot be reached at boot, the service still
 * starts (writers spool) and migrations are retried in the background; an edited or failing
 * migration stops the boot instead, because the schema would not be what the code expects.
 */
export class StoreLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Store');
  private retentionTimer: NodeJS.Timeout | undefined;
  private migrationTimer: NodeJS.Timeout | undefined;
  private retentionRunning = false;
  private stopped = false;

  constructor(
    readonly store: AnalyticsStore,
    private readonly config: ArgusConfig,
  ) {}

  /** Called by the module factory before the store is handed to anyone. */
  async migrateAtBoot(): Promise<void> {
    if (!this.config.store.migrateOnStart) return;
    try {
      await this.store.migrate((line) => this.logger.log(line));
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      this.logger.error(
        `${this.store.kind} unreachable, migrations will be retried every ${MIGRATION_RETRY_MS / 1000} s: ${err.message}`,
      );
      this.scheduleMigrationRetry();
    }
  }

  private scheduleMigrationRetry(): void {
    if (this.stopped) return;
    this.migrationTimer = setTimeout(() => {
      this.store
        .migrate((line) => this.logger.log(line))
        .then(
          () => this.logger.log('migrations applied after the store came back'),
          (err: unknown) => {
            if (err instanceof StoreUnavailableError) this.scheduleMigrationRetry();
            else this.logger.error(`migrations failed: ${errorMessage(err)}`);
          },
        );
    }, MIGRATION_RETRY_MS);
    this.migrationTimer.unref();
  }

  onApplicationBootstrap(): void {
    const days = this.config.store.retentionDays;
    if (days <= 0) return;
    this.logger.log(`retention: keeping ${days} days, checked hourly`);
    void this.runRetention(days);
    this.retentionTimer = setInterval(() => void this.runRetention(days), RETENTION_INTERVAL_MS);
    this.retentionTimer.unref();
  }

  private async runRetention(days: number): Promise<void> {
    if (this.retentionRunning || this.stopped) return;
    this.retentionRunning = true;
    try {
      const report = await this.store.dropPartitionsOlderThan(days);
      if (report.dropped.length > 0) {
        this.logger.log(
          `retention dropped ${report.dropped.join(', ')} (${report.rows} rows older than ${days} days)`,
        );
      }
    } catch (err) {
      // Retention is housekeeping: a failed run is logged and tried again next hour.
      this.logger.error(`retention failed: ${errorMessage(err)}`);
    } finally {
      this.retentionRunning = false;
    }
  }

  /**
   * The last shutdown phase, so writers that flush in `onModuleDestroy` /
   * `beforeApplicationShutdown` still have an open store.
   */
  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.retentionTimer !== undefined) clearInterval(this.retentionTimer);
    if (this.migrationTimer !== undefined) clearTimeout(this.migrationTimer);
    await this.store.close();
  }
}

/**
 * Provides `ANALYTICS_STORE` (the `AnalyticsStore` chosen by configuration, migrated when
 * `store.migrateOnStart`). Needs `ConfigModule.forRoot(config)` for `ARGUS_CONFIG`.
 *
 * The store is built through `StoreLifecycle`, so nothing can inject it before migrations ran.
 *
 * Global, like the configuration: it is infrastructure many modules use. Shutdown order matters:
 * the store closes in `onApplicationShutdown`, and Nest runs that hook for modules of equal depth
 * in reverse import order, so list `StoreModule` before the modules that write to it. Writers that
 * flush at shutdown are safest doing it in `beforeApplicationShutdown`, which runs for every module
 * before any `onApplicationShutdown`.
 */
@Global()
@Module({
  providers: [
    {
      provide: StoreLifecycle,
      useFactory: async (config: ArgusConfig) => {
        const lifecycle = new StoreLifecycle(await openAnalyticsStore(config), config);
        try {
          await lifecycle.migrateAtBoot();
        } catch (err) {
          await lifecycle.store.close();
          throw err;
        }
        return lifecycle;
      },
      inject: [ARGUS_CONFIG],
    },
    {
      provide: ANALYTICS_STORE,
      useFactory: (lifecycle: StoreLifecycle) => lifecycle.store,
      inject: [StoreLifecycle],
    },
  ],
  exports: [ANALYTICS_STORE],
})
export class StoreModule {}
