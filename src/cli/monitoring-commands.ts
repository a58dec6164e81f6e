import { Command } from 'commander';
import { ArgusError, InvalidInputError, errorMessage } from '../common/errors';
import {
  CsvTable,
  compareCsvFiles,
  formatDriftTable,
  readCsvTable,
} from '../monitoring/offline-drift';
import { scoreReferenceRows } from '../monitoring/reference-profiles';
import {
  REFERENCE_PROFILE_ARTIFACT,
  VersionProfile,
  buildVersionProfile,
} from '../monitoring/version-profile';
import { OnnxRuntime } from '../onnx/onnx-runtime';
import { ModelManifest } from '../registry/manifest';
import { ModelRegistry } from '../registry/model-registry';

/**
 * Monitoring commands: `argus drift` (offline comparison of two CSV files with the service's drift
 * engine) and the `--reference data.csv` step of `argus models register`.
 */

/** Columns of a reference CSV taken as the ground truth (classifier label or regression target). */
export const REFERENCE_LABEL_COLUMNS = ['label', 'target', 'y'];

async function readCsv(path: string, what: string): Promise<CsvTable> {
  try {
    return await readCsvTable(path);
  } catch (err) {
    if (err instanceof ArgusError) throw err;
    throw new InvalidInputError(`cannot read ${what} '${path}': ${errorMessage(err)}`);
  }
}

export function registerMonitoringCommands(program: Command): void {
  program
    .command('drift')
    .description(
      'compare two CSV files column by column with the monitoring drift engine (exit 0 whether or not drift is found)',
    )
    .requiredOption('--reference <ref.csv>', 'reference CSV with a header row')
    .requiredOption('--current <cur.csv>', 'current CSV with a header row')
    .option('--json', 'print the stable JSON report instead of the table')
    .action(async (opts: { reference: string; current: string; json?: boolean }) => {
      const report = await compareCsvFiles(opts.reference, opts.current).catch((err: unknown) => {
        if (err instanceof ArgusError) throw err;
        throw new InvalidInputError(`cannot compare the files: ${errorMessage(err)}`);
      });
      if (opts.json) {
        const features = report.features.map((f) => ({
          name: f.name,
          type: f.type,
          method: f.method,
          score: f.score,
          threshold: f.threshold,
          drift: f.drift,
          stats: f.stats,
        }));
        process.stdout.write(
          JSON.stringify(
            { features, drift_share: report.drift_share, dataset_drift: report.dataset_drift },
            null,
            2,
          ) + '\n',
        );
      } else {
        process.stdout.write(formatDriftTable(report));
      }
    });
}

/** Reference rows read from a CSV before registering: inputs in the model's feature order. */
export interface ReferenceCsv {
  path: string;
  header: string[];
  rows: number[][];
  labels: string[] | undefined;
}

function cellNumber(text: string, path: string, row: number, column: string): number {
  const trimmed = text.trim();
  if (trimmed === '') return Number.NaN;
  const n = Number(trimmed);
  if (!Number.isFinite(n)) {
    throw new InvalidInputError(
      `${path}: row ${row + 1}, column '${column}' is not a number: ${JSON.stringify(text)}`,
    );
  }
  return n;
}

/** Reads a reference CSV: every column is an input except a label column (`label`, `target`, `y`). */
export async function readReferenceCsv(path: string): Promise<ReferenceCsv> {
  const table = await readCsv(path, 'reference file');
  if (table.rows === 0) throw new InvalidInputError(`${path}: the reference has no rows`);
  const labelColumn = table.header.findIndex((h) => REFERENCE_LABEL_COLUMNS.includes(h));
  const inputColumns = table.header.map((_, j) => j).filter((j) => j !== labelColumn);
  const rows = Array.from({ length: table.rows }, (_, i) =>
    inputColumns.map((j) => cellNumber(table.columns[j][i], path, i, table.header[j])),
  );
  return {
    path,
    header: inputColumns.map((j) => table.header[j]),
    rows,
    labels: labelColumn >= 0 ? table.columns[labelColumn].slice() : undefined,
  };
}

/** Orders the CSV columns like the model's features when the manifest names them. */
function inModelOrder(reference: ReferenceCsv, manifest: ModelManifest): number[][] {
  const names = manifest.feature_names;
  if (!names) return reference.rows;
  const positions = names.map((n) => reference.header.indexOf(n));
  if (positions.some((p) => p < 0)) {
    throw new InvalidInputError(
      `${reference.path}: the model's features are ${names.join(', ')}; the CSV has ${reference.header.join(', ')}`,
    );
  }
  return reference.rows.map((row) => positions.map((p) => row[p]));
}

/**
 * Builds the reference profile of a freshly registered version from a CSV (its model scores the
 * rows; the label column, when present, is the ground truth CBPE is calibrated on) and stores it.
 */
export async function storeReferenceProfile(
  registry: ModelRegistry,
  name: string,
  version: number,
  reference: ReferenceCsv,
): Promise<VersionProfile> {
  const { manifest, bytes } = await registry.readModel(name, version);
  const rows = inModelOrder(reference, manifest);
  const outputs = await scoreReferenceRows(new OnnxRuntime(), manifest, bytes, rows);
  const labels =
    reference.labels && manifest.task === 'regression'
      ? reference.labels.map((y) => Number(y))
      : reference.labels;
  const profile = buildVersionProfile(manifest, { rows, outputs, labels }, 'registration');
  await registry.writeArtifact(name, version, REFERENCE_PROFILE_ARTIFACT, JSON.stringify(profile));
  return profile;
}
