import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  MigrationChecksumError,
  MigrateOptions,
  MigrationFailedError,
  MigrationProgress,
  MigrationReport,
  StoreKind,
  StoreUnavailableError,
} from './analytics-store';

/**
 * `migrations/` at the package root. `__dirname` is `src/store` under ts-node/jest and
 * `dist/store` after the build (tsconfig.build.json: rootDir src → outDir dist), so two levels up is
 * the package root in both cases.
 */
export const MIGRATIONS_ROOT = resolve(__dirname, '../../migrations');

export function migrationsDirFor(kind: StoreKind): string {
  return join(MIGRATIONS_ROOT, kind);
}

export interface MigrationFile {
  /** File name, e.g. `0001_init.sql`: the key recorded in `schema_migrations`. */
  name: string;
  /** sha256 (hex) of the file's bytes. */
  checksum: string;
  statements: string[];
}

const MIGRATION_NAME = /^(\d{4})_[A-Za-z0-9_]+\.sql$/;

/**
 * Reads `NNNN_name.sql` files in name order. Other files are ignored; two files with the same
 * number are refused (their order would be ambiguous).
 */
export function readMigrations(dir: string): MigrationFile[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => MIGRATION_NAME.test(n));
  } catch (err) {
    throw new Error(`cannot read migrations directory ${dir}: ${(err as Error).message}`);
  }
  names.sort();
  const seen = new Map<string, string>();
  for (const name of names) {
    const number = name.slice(0, 4);
    const other = seen.get(number);
    if (other !== undefined) {
      throw new Error(`migrations ${other} and ${name} in ${dir} share the number ${number}`);
    }
    seen.set(number, name);
  }
  return names.map((name) => {
    const bytes = readFileSync(join(dir, name));
    return {
      name,
      checksum: createHash('sha256').update(bytes).digest('hex'),
      statements: splitStatements(bytes.toString('utf8')),
    };
  });
}

/**
 * Statements end with `;` at the end of a line. Whole-line `--` comments are dropped (they may
 * contain `;`); chunks with nothing left are skipped.
 */
export function splitStatements(sql: string): string[] {
  const withoutComments = sql
    .split(/\r?\n/)
    .filter((line) => !/^\s*--/.test(line))
    .join('\n');
  return withoutComments
    .split(/;[ \t]*(?:\n|$)/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** How far a running statement has read its source, as the store reports it. */
export interface StatementProgress {
  rowsRead: number;
  /** The store's estimate of the rows the statement will read; 0 when it has none. */
  totalRows: number;
}

/** While a statement runs for longer than this, its progress is reported this often. */
export const MIGRATION_PROGRESS_INTERVAL_MS = 1000;

/** Where and how often a target reports on its long statements. */
export interface ProgressReporting {
  report: MigrationProgress;
  intervalMs: number;
}

/** What the runner needs from a store; each store implements it over its own connection. */
export interface MigrationTarget {
  /** Creates `schema_migrations` (and the database, for ClickHouse) when missing. */
  prepare(): Promise<void>;
  /** name → checksum of applied migrations. */
  applied(): Promise<Map<string, string>>;
  /**
   * Runs the statements and records the migration. DuckDB does both in one transaction; ClickHouse
   * has no DDL transactions, so its migrations use `IF NOT EXISTS` to be safely re-runnable after a
   * failure part-way through. A statement that runs for longer than `reporting.intervalMs` is
   * reported on (runStatements), so a migration that copies a large table is not silent.
   */
  apply(migration: MigrationFile, reporting: ProgressReporting): Promise<void>;
}

export async function runMigrations(
  target: MigrationTarget,
  dir: string,
  onProgress: MigrationProgress = () => {},
  options: MigrateOptions = {},
): Promise<MigrationReport> {
  const reporting: ProgressReporting = {
    report: onProgress,
    intervalMs: options.progressIntervalMs ?? MIGRATION_PROGRESS_INTERVAL_MS,
  };
  const files = readMigrations(dir);
  await target.prepare();
  const applied = await target.applied();

  // Refuse before applying anything: an edited history means the schema is not what the files say.
  for (const file of files) {
    const recorded = applied.get(file.name);
    if (recorded !== undefined && recorded !== file.checksum) {
      throw new MigrationChecksumError(file.name, recorded, file.checksum);
    }
  }

  const report: MigrationReport = { applied: [], alreadyApplied: [] };
  for (const file of files) {
    if (applied.has(file.name)) {
      report.alreadyApplied.push(file.name);
      onProgress(`migration ${file.name}: already applied`);
      continue;
    }
    const started = Date.now();
    await target.apply(file, reporting);
    report.applied.push(file.name);
    onProgress(
      `migration ${file.name}: applied (${file.statements.length} statements, ${Date.now() - started} ms)`,
    );
  }
  return report;
}

/** Reads a running statement's progress for runStatements; null when the store cannot say. */
export type StatementProgressReader = () => Promise<StatementProgress | null>;

/** Where a long statement's progress goes, and how the store reads it. */
export interface StatementWatch {
  reporting: ProgressReporting;
  read: StatementProgressReader;
}

/**
 * Runs statements one by one, naming the failing one. With `watch`, a statement still running
 * after `intervalMs` gets a progress line every `intervalMs` until it ends:
 *
 *   migration 0004_x.sql: statement 2/3, 1,474,560 of 3,000,003 rows read (49 %), 2 s
 *
 * Progress is best effort: a reader that fails or has nothing to say leaves a line with the
 * elapsed time only, and never fails the migration.
 */
export async function runStatements(
  migration: MigrationFile,
  run: (statement: string) => Promise<unknown>,
  watch?: StatementWatch,
): Promise<void> {
  const count = migration.statements.length;
  for (let i = 0; i < count; i++) {
    const stop = watch
      ? watchStatement(`migration ${migration.name}: statement ${i + 1}/${count}`, watch)
      : () => {};
    try {
      await run(migration.statements[i]);
    } catch (err) {
      // A store that went away mid-migration is a retryable outage, not a broken migration.
      if (err instanceof StoreUnavailableError) throw err;
      throw new MigrationFailedError(migration.name, i, err);
    } finally {
      stop();
    }
  }
}

/** Starts reporting on one statement; the returned function stops it. */
function watchStatement(prefix: string, { reporting, read }: StatementWatch): () => void {
  const started = Date.now();
  let stopped = false;
  let reading = false;
  const timer = setInterval(() => {
    // A slow reader (a busy server) must not pile up reads, nor report after the statement ended.
    if (reading) return;
    reading = true;
    void read()
      .catch(() => null)
      .then((progress) => {
        if (!stopped) reporting.report(progressLine(prefix, progress, Date.now() - started));
      })
      .finally(() => {
        reading = false;
      });
  }, reporting.intervalMs);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

export function progressLine(
  prefix: string,
  progress: StatementProgress | null,
  elapsedMs: number,
): string {
  const elapsed = `${Math.round(elapsedMs / 1000)} s`;
  if (!progress) return `${prefix}, running, ${elapsed}`;
  const rows = (n: number) => Math.round(n).toLocaleString('en-US');
  if (progress.totalRows <= 0) return `${prefix}, ${rows(progress.rowsRead)} rows read, ${elapsed}`;
  // The estimate can fall short of what is read (ClickHouse's total_rows_approx): never past 100.
  const percent = Math.min(100, Math.floor((100 * progress.rowsRead) / progress.totalRows));
  return (
    `${prefix}, ${rows(progress.rowsRead)} of ${rows(progress.totalRows)} rows read ` +
    `(${percent} %), ${elapsed}`
  );
}
