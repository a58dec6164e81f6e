import { createReadStream } from 'node:fs';
import { CsvRecordParser } from '../common/csv';
import { InvalidInputError } from '../common/errors';
import { profileCategoricalFeature, profileNumericalFeature } from './reference-profile';
import {
  CategoryValue,
  ChiSquareMode,
  DEFAULT_DRIFT_SHARE_THRESHOLD,
  DEFAULT_MIN_ROWS,
  DriftMethod,
  FeatureDrift,
  countBins,
  datasetDrift,
  featureDriftFromCounts,
  ksTwoSample,
  normedWassersteinDistance,
} from './stats';

/**
 * Offline drift between two CSV files (`argus drift --reference ref.csv --current cur.csv`), with
 * the same engine as the monitoring scheduler. The only module of the monitoring package that
 * touches files.
 *
 * Numerical columns are binned on the reference's quantiles like a reference profile, and their KS
 * test and normed Wasserstein distance are computed on the raw samples (matching scipy to 1e-6).
 *
 * Column rules:
 * - a cell that is empty (after trimming) or `NaN` is missing; `inf` / `-inf` / `Infinity` are
 *   numbers outside every range (counted out of range, left out of KS and Wasserstein);
 * - type: declared in `featureTypes`, else categorical if any non-empty, non-numeric cell occurs in
 *   either file, or if the reference holds at most 5 distinct numbers; numerical otherwise;
 * - columns of either file are compared; a column one file lacks is entirely missing there (its
 *   missing share reports it, its drift status is "insufficient_data").
 */

export interface CsvTable {
  header: string[];
  /** Raw cell text per column (`columns[j][i]` = column j of data row i). */
  columns: string[][];
  rows: number;
}

/** The stable `--json` contract. */
export interface OfflineDriftStats {
  ks_statistic?: number | null;
  ks_p_value?: number | null;
  wasserstein_normed?: number | null;
  psi: number | null;
  jensen_shannon: number | null;
  hellinger: number | null;
  chi2_statistic: number | null;
  chi2_p_value: number | null;
  missing_share_reference: number | null;
  missing_share_current: number | null;
}

export interface OfflineFeatureDrift {
  name: string;
  type: 'numerical' | 'categorical';
  method: DriftMethod;
  /** "insufficient_data" when either file has fewer than `minRows` values: score null, no drift. */
  status: 'ok' | 'insufficient_data';
  score: number | null;
  threshold: number;
  drift: boolean;
  stats: OfflineDriftStats;
}

export interface OfflineDriftReport {
  features: OfflineFeatureDrift[];
  /** Share of evaluated features that drift (null when none could be evaluated). */
  drift_share: number | null;
  /** drift_share ≥ 0.5. */
  dataset_drift: boolean;
}

export interface OfflineDriftOptions {
  /** Compare only these columns. */
  columns?: readonly string[];
  featureTypes?: Readonly<Record<string, 'numerical' | 'categorical'>>;
  methods?: Readonly<Record<string, DriftMethod>>;
  thresholds?: Readonly<Record<string, number>>;
  /** Quantile bins for numerical columns (2–20, default 10). */
  bins?: number;
  minRows?: number;
  chiSquare?: ChiSquareMode;
  driftShareThreshold?: number;
  maxCategories?: number;
}

/** Reads a CSV file with a header row into columns of raw cell text. */
export async function readCsvTable(path: string): Promise<CsvTable> {
  const parser = new CsvRecordParser();
  let header: string[] | undefined;
  let columns: string[][] = [];
  let rows = 0;
  let record = 0;
  const emit = (fields: string[]): void => {
    record++;
    if (!header) {
      // A UTF-8 byte order mark (spreadsheet exports) is not part of the first column's name.
      header = fields.map((h, j) => (j === 0 ? h.replace(/^\uFEFF/, '') : h).trim());
      const seen = new Set<string>();
      for (const h of header) {
        if (h === '') throw new InvalidInputError(`${path}: the header has an empty column name`);
        if (seen.has(h)) throw new InvalidInputError(`${path}: column '${h}' appears twice`);
        seen.add(h);
      }
      columns = header.map(() => []);
      return;
    }
    if (fields.length !== header.length) {
      throw new InvalidInputError(
        `${path}: record ${record} has ${fields.length} fields, the header has ${header.length}`,
      );
    }
    fields.forEach((f, j) => columns[j].push(f));
    rows++;
  };
  const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 });
  try {
    for await (const chunk of stream) parser.push(chunk as string, emit);
  } catch (err: unknown) {
    if (err instanceof InvalidInputError) throw err;
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT') throw new InvalidInputError(`${path}: no such file`);
    throw err;
  }
  try {
    parser.end(emit);
  } catch (err: unknown) {
    if (err instanceof InvalidInputError && !err.message.startsWith(path)) {
      throw new InvalidInputError(`${path}: ${err.message}`);
    }
    throw err;
  }
  if (!header) throw new InvalidInputError(`${path}: empty file (a header row is required)`);
  return { header, columns, rows };
}

type Cell =
  { kind: 'missing' } | { kind: 'number'; value: number } | { kind: 'text'; value: string };

const INFINITY = /^[+]?(inf|infinity)$/i;
const NEGATIVE_INFINITY = /^-(inf|infinity)$/i;

function parseCell(raw: string): Cell {
  const t = raw.trim();
  if (t === '' || t.toLowerCase() === 'nan') return { kind: 'missing' };
  if (INFINITY.test(t)) return { kind: 'number', value: Number.POSITIVE_INFINITY };
  if (NEGATIVE_INFINITY.test(t)) return { kind: 'number', value: Number.NEGATIVE_INFINITY };
  const n = Number(t);
  return Number.isFinite(n) ? { kind: 'number', value: n } : { kind: 'text', value: t };
}

function cellsOf(table: CsvTable, name: string): Cell[] {
  const j = table.header.indexOf(name);
  return j < 0
    ? new Array<Cell>(table.rows).fill({ kind: 'missing' })
    : table.columns[j].map(parseCell);
}

function numericValues(cells: readonly Cell[]): Float64Array {
  return Float64Array.from(cells, (c) => (c.kind === 'number' ? c.value : Number.NaN));
}

function categoryValues(cells: readonly Cell[]): (CategoryValue | null)[] {
  return cells.map((c) => (c.kind === 'missing' ? null : c.value));
}

function inferType(
  reference: readonly Cell[],
  current: readonly Cell[],
): 'numerical' | 'categorical' {
  if (reference.some((c) => c.kind === 'text') || current.some((c) => c.kind === 'text')) {
    return 'categorical';
  }
  const distinct = new Set<number>();
  for (const c of reference) {
    if (c.kind === 'number' && Number.isFinite(c.value)) {
      distinct.add(c.value);
      if (distinct.size > 5) return 'numerical';
    }
  }
  return distinct.size === 0 ? 'numerical' : 'categorical';
}

function finiteCount(values: Float64Array): number {
  let n = 0;
  for (const v of values) if (Number.isFinite(v)) n++;
  return n;
}

function project(result: FeatureDrift): OfflineFeatureDrift {
  const s = result.stats;
  const stats: OfflineDriftStats =
    result.type === 'numerical'
      ? {
          ks_statistic: s.ks_statistic ?? null,
          ks_p_value: s.ks_p_value ?? null,
          wasserstein_normed: s.wasserstein_normed ?? null,
          psi: s.psi,
          jensen_shannon: s.jensen_shannon,
          hellinger: s.hellinger,
          chi2_statistic: s.chi2_statistic,
          chi2_p_value: s.chi2_p_value,
          missing_share_reference: s.missing_share_reference,
          missing_share_current: s.missing_share_current,
        }
      : {
          psi: s.psi,
          jensen_shannon: s.jensen_shannon,
          hellinger: s.hellinger,
          chi2_statistic: s.chi2_statistic,
          chi2_p_value: s.chi2_p_value,
          missing_share_reference: s.missing_share_reference,
          missing_share_current: s.missing_share_current,
        };
  return {
    name: result.name,
    type: result.type,
    method: result.method,
    status: result.status,
    score: result.score,
    threshold: result.threshold,
    drift: result.drift,
    stats,
  };
}

/** Drift report of two parsed tables (pure; `compareCsvFiles` reads the files). */
export function compareTables(
  reference: CsvTable,
  current: CsvTable,
  options: OfflineDriftOptions = {},
): OfflineDriftReport {
  const minRows = options.minRows ?? DEFAULT_MIN_ROWS;
  const all = [...reference.header, ...current.header.filter((h) => !reference.header.includes(h))];
  const names = options.columns ? options.columns.slice() : all;
  for (const name of names) {
    if (!all.includes(name)) throw new InvalidInputError(`column '${name}' is in neither file`);
  }
  const results: FeatureDrift[] = names.map((name, j) => {
    const refCells = cellsOf(reference, name);
    const curCells = cellsOf(current, name);
    const type = options.featureTypes?.[name] ?? inferType(refCells, curCells);
    const common = {
      method: options.methods?.[name],
      threshold: options.thresholds?.[name],
      minRows,
      chiSquare: options.chiSquare,
    };
    if (type === 'numerical') {
      const refValues = numericValues(refCells);
      const curValues = numericValues(curCells);
      const feature = profileNumericalFeature(name, j, refValues, { bins: options.bins });
      const raw =
        finiteCount(refValues) >= Math.max(1, minRows) &&
        finiteCount(curValues) >= Math.max(1, minRows)
          ? {
              ks: ksTwoSample(refValues, curValues),
              wassersteinNormed: normedWassersteinDistance(refValues, curValues),
            }
          : undefined;
      return featureDriftFromCounts(feature, feature.counts, countBins(feature, curValues), {
        ...common,
        rawSampleStatistics: raw,
      });
    }
    const feature = profileCategoricalFeature(name, j, categoryValues(refCells), {
      maxCategories: options.maxCategories ?? Number.MAX_SAFE_INTEGER,
    });
    return featureDriftFromCounts(
      feature,
      feature.counts,
      countBins(feature, categoryValues(curCells)),
      common,
    );
  });
  const dataset = datasetDrift(
    results,
    options.driftShareThreshold ?? DEFAULT_DRIFT_SHARE_THRESHOLD,
  );
  return {
    features: results.map(project),
    drift_share: dataset.drift_share,
    dataset_drift: dataset.dataset_drift,
  };
}

/** `argus drift`: compares two CSV files (header row required) column by column. */
export async function compareCsvFiles(
  referencePath: string,
  currentPath: string,
  options: OfflineDriftOptions = {},
): Promise<OfflineDriftReport> {
  const [reference, current] = await Promise.all([
    readCsvTable(referencePath),
    readCsvTable(currentPath),
  ]);
  return compareTables(reference, current, options);
}

function formatNumber(x: number | null | undefined): string {
  if (x === null || x === undefined) return '-';
  if (x !== 0 && Math.abs(x) < 1e-4) return x.toExponential(2);
  if (Math.abs(x) >= 1e6) return x.toExponential(3);
  return x.toFixed(4);
}

function formatShare(x: number | null): string {
  return x === null ? '-' : `${(x * 100).toFixed(1)}%`;
}

/** Human-readable fixed-width table of a report, one line per feature plus a summary line. */
export function formatDriftTable(report: OfflineDriftReport): string {
  const head = [
    'feature',
    'type',
    'method',
    'score',
    'threshold',
    'drift',
    'missing ref',
    'missing cur',
  ];
  const rows = report.features.map((f) => [
    f.name,
    f.type,
    f.method,
    formatNumber(f.score),
    formatNumber(f.threshold),
    f.status === 'ok' ? (f.drift ? 'DRIFT' : 'no') : 'insufficient data',
    formatShare(f.stats.missing_share_reference),
    formatShare(f.stats.missing_share_current),
  ]);
  const numeric = new Set([3, 4, 6, 7]);
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, c) => (numeric.has(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
      .join('  ')
      .trimEnd();
  const evaluated = report.features.filter((f) => f.status === 'ok').length;
  const drifted = report.features.filter((f) => f.status === 'ok' && f.drift).length;
  const summary =
    report.drift_share === null
      ? 'Drifted features: none evaluated (insufficient data)'
      : `Drifted features: ${drifted} of ${evaluated} (${(report.drift_share * 100).toFixed(1)}%)` +
        ` - dataset drift: ${report.dataset_drift ? 'yes' : 'no'}`;
  return [
    line(head),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map(line),
    '',
    summary,
    '',
  ].join('\n');
}
