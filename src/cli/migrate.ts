import { ArgusConfig } from '../config';
import { MigrationReport } from '../store';
import { describeStore, openStoreForCli } from './store-access';

export interface MigrateSummary extends MigrationReport {
  store: string;
  seconds: number;
}

/**
 * `argus migrate`: applies pending migrations of the configured store, one progress line per
 * migration (`migration 0001_init.sql: applied (…)` / `already applied`) and one a second while a
 * long statement runs (`…: statement 2/4, 1,474,560 of 3,000,003 rows read (49 %), 2 s`), then a
 * summary line.
 * An edited, already-applied migration is refused before anything runs (MigrationChecksumError).
 */
export async function runMigrate(
  config: ArgusConfig,
  write: (line: string) => void,
): Promise<MigrateSummary> {
  const where = describeStore(config);
  const started = Date.now();
  const store = await openStoreForCli(
    config,
    'Stop the server first (it applies migrations itself at start unless ARGUS_MIGRATE_ON_START=false).',
  );
  try {
    write(`migrating ${where}`);
    const report = await store.migrate((line) => write(line));
    const seconds = (Date.now() - started) / 1000;
    write(
      `${report.applied.length} migration(s) applied, ${report.alreadyApplied.length} already ` +
        `applied, in ${seconds.toFixed(2)} s`,
    );
    return { ...report, store: where, seconds };
  } finally {
    await store.close();
  }
}
