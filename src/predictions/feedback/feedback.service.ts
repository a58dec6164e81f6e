import { ArgusError, InvalidInputError } from '../../common/errors';
import { ModelManifest } from '../../registry/manifest';
import type { AnalyticsStore, PredictionSummary } from '../../store/analytics-store';
import { FeedbackRecord } from '../prediction-record';

/**
 * Ground truth for earlier predictions. A request is validated whole — shape of every row,
 * duplicates, unknown prediction ids, labels against the model's classes — and then handed to the
 * writer in one piece, so it is either accepted entirely or not at all.
 */
export const MAX_FEEDBACK_ROWS = 10_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_LISTED_PROBLEMS = 100;

export interface FeedbackRowProblem {
  index: number;
  prediction_id: string | null;
  error: string;
}

export class InvalidFeedbackError extends ArgusError {
  constructor(
    /** Every bad row, by index (the response lists the first MAX_LISTED_PROBLEMS). */
    readonly problems: FeedbackRowProblem[],
    total: number,
  ) {
    super(
      'invalid',
      `${problems.length} of ${total} feedback rows are invalid; nothing was written`,
      {
        rows: problems.slice(0, MAX_LISTED_PROBLEMS),
        ...(problems.length > MAX_LISTED_PROBLEMS
          ? { more_rows: problems.length - MAX_LISTED_PROBLEMS }
          : {}),
      },
    );
  }
}

export interface FeedbackDependencies {
  store: Pick<AnalyticsStore, 'lookupPredictions'>;
  manifest(model: string, version: number): Promise<ModelManifest | undefined>;
  /** Makes predictions still queued in this process visible to `lookupPredictions`. */
  flushPredictions(): Promise<void>;
  /** Stores the rows durably (spool or store) before resolving. */
  write(rows: FeedbackRecord[]): Promise<void>;
  now?: () => number;
}

interface ParsedRow {
  index: number;
  record: FeedbackRecord;
  /** The label as sent (number labels are matched against class names as strings). */
  hasLabel: boolean;
}

export class FeedbackService {
  constructor(private readonly deps: FeedbackDependencies) {}

  /** Validates `body` whole, then hands it to the writer in one piece. */
  async submit(body: unknown, source = 'api'): Promise<{ accepted: number }> {
    const records = await this.validate(body, source);
    await this.deps.write(records);
    return { accepted: records.length };
  }

  /**
   * The checks of `submit` without the write: the records `submit` would write, or an error
   * (InvalidFeedbackError listing every bad row by index, InvalidInputError, 413 `too_large`).
   * `argus feedback --file` validates a whole file with it before writing anything.
   */
  async validate(body: unknown, source = 'api'): Promise<FeedbackRecord[]> {
    if (!Array.isArray(body)) {
      throw new InvalidInputError(
        'body must be a JSON array of {"prediction_id", "label" | "value"} rows',
      );
    }
    if (body.length === 0) throw new InvalidInputError('no feedback rows');
    if (body.length > MAX_FEEDBACK_ROWS) {
      throw new ArgusError(
        'too_large',
        `${body.length} feedback rows; at most ${MAX_FEEDBACK_ROWS} per request`,
      );
    }
    const now = (this.deps.now ?? Date.now)();
    const problems: FeedbackRowProblem[] = [];
    const parsed: ParsedRow[] = [];
    const firstIndex = new Map<string, number>();
    body.forEach((raw: unknown, index) => {
      const row = parseRow(raw, index, now, source);
      if ('error' in row) {
        problems.push(row);
        return;
      }
      const id = row.record.prediction_id;
      const seen = firstIndex.get(id);
      if (seen !== undefined) {
        problems.push({ index, prediction_id: id, error: `duplicate of row ${seen}` });
        return;
      }
      firstIndex.set(id, index);
      parsed.push(row);
    });

    const ids = parsed.map((p) => p.record.prediction_id);
    let found =
      ids.length > 0
        ? await this.deps.store.lookupPredictions(ids)
        : new Map<string, PredictionSummary>();
    if (found.size < ids.length) {
      // Predictions made a moment ago may still be in the writer's queue.
      await this.deps.flushPredictions();
      found = await this.deps.store.lookupPredictions(ids);
    }
    const manifests = new Map<string, ModelManifest | undefined>();
    for (const row of parsed) {
      const prediction = found.get(row.record.prediction_id);
      if (!prediction) {
        problems.push({
          index: row.index,
          prediction_id: row.record.prediction_id,
          error: 'unknown prediction id',
        });
        continue;
      }
      // Carried to the store with the label: `labeled_predictions` needs the prediction's fields,
      // and this lookup is the one that has them (docs/monitoring.md "Quality").
      row.record.prediction = prediction;
      const key = `${prediction.model}@${prediction.model_version}`;
      if (!manifests.has(key))
        manifests.set(key, await this.deps.manifest(prediction.model, prediction.model_version));
      const problem = checkAgainstModel(row, manifests.get(key));
      if (problem)
        problems.push({
          index: row.index,
          prediction_id: row.record.prediction_id,
          error: problem,
        });
    }
    if (problems.length > 0) {
      throw new InvalidFeedbackError(
        problems.sort((a, b) => a.index - b.index),
        body.length,
      );
    }
    return parsed.map((p) => p.record);
  }
}

function parseRow(
  raw: unknown,
  index: number,
  now: number,
  source: string,
): ParsedRow | FeedbackRowProblem {
  const problem = (error: string, id: string | null = null): FeedbackRowProblem => ({
    index,
    prediction_id: id,
    error,
  });
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    return problem('row must be an object');
  const r = raw as Record<string, unknown>;
  // Every problem of a row with a readable id names it, so the client can find the row.
  const readableId =
    typeof r.prediction_id === 'string' && UUID.test(r.prediction_id)
      ? r.prediction_id.toLowerCase()
      : null;
  const unknownKeys = Object.keys(r).filter(
    (k) => !['prediction_id', 'label', 'value', 'ts', 'source'].includes(k),
  );
  if (unknownKeys.length > 0)
    return problem(`unknown field(s): ${unknownKeys.slice(0, 5).join(', ')}`, readableId);
  if (readableId === null) {
    return problem('prediction_id must be the UUID returned with the prediction');
  }
  const id = readableId;
  const hasLabel = r.label !== undefined && r.label !== null;
  const hasValue = r.value !== undefined && r.value !== null;
  if (hasLabel === hasValue)
    return problem('give exactly one of "label" (classification) or "value" (regression)', id);
  let label = '';
  let value: number | null = null;
  if (hasLabel) {
    if (typeof r.label === 'string' && r.label !== '' && r.label.length <= 256) label = r.label;
    else if (typeof r.label === 'number' && Number.isInteger(r.label)) label = String(r.label);
    else return problem('label must be a non-empty string (≤ 256 chars) or an integer class', id);
  } else {
    if (typeof r.value !== 'number' || !Number.isFinite(r.value))
      return problem('value must be a finite number', id);
    value = r.value;
  }
  let ts = now;
  if (r.ts !== undefined) {
    const t = typeof r.ts === 'number' ? r.ts : typeof r.ts === 'string' ? Date.parse(r.ts) : NaN;
    if (!Number.isFinite(t) || t < 0 || t > now + 86_400_000) {
      return problem(
        'ts must be milliseconds since the epoch or an ISO date, not in the future',
        id,
      );
    }
    ts = t;
  }
  let rowSource = source;
  if (r.source !== undefined) {
    if (typeof r.source !== 'string' || r.source.length > 64)
      return problem('source must be a string of at most 64 characters', id);
    rowSource = r.source;
  }
  return { index, hasLabel, record: { prediction_id: id, ts, label, value, source: rowSource } };
}

function checkAgainstModel(
  row: ParsedRow,
  manifest: ModelManifest | undefined,
): string | undefined {
  if (!manifest) return undefined; // the version was deleted: keep the label, it still describes the row
  if (manifest.task === 'classification') {
    if (!row.hasLabel) return `model '${manifest.name}' is a classifier: send "label", not "value"`;
    const classes = manifest.class_names;
    if (classes && !classes.includes(row.record.label)) {
      const shown =
        classes.length > 20 ? `${classes.slice(0, 20).join(', ')}, …` : classes.join(', ');
      return `label '${row.record.label}' is not a class of model '${manifest.name}' (${shown})`;
    }
  } else if (manifest.task === 'regression' && row.hasLabel) {
    return `model '${manifest.name}' is a regressor: send "value", not "label"`;
  }
  return undefined;
}
