export * from './analytics-store';
export { ClickHouseStore } from './clickhouse-store';
export type { ClickHouseStoreOptions } from './clickhouse-store';
export { DuckDbStore } from './duckdb-store';
export type { DuckDbStoreOptions } from './duckdb-store';
export { MIGRATIONS_ROOT, migrationsDirFor } from './migrations';
export { openAnalyticsStore, StoreLifecycle, StoreModule } from './store.module';
