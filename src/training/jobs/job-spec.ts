import { InvalidInputError } from '../../common/errors';
import { parseVersion } from '../../registry/manifest';
import { checkSplitOptions, DEFAULT_SPLIT, SplitOptions } from '../datasets/split';
import type { GateMetric, GateRule } from '../evaluation';
import { DEFAULT_LOG_ROW_LIMIT } from '../datasets/log-dataset';
import type { Task } from '../trainers/dataset';
import { DenseTrainingOptions, resolveTrainingOptions } from '../trainers/dense-trainer';
import { MNIST_DEMO_OPTIONS } from '../mnist-demo-training';

/**
 * The JSON a training job is described by: what `POST /v1/models/{name}/train` takes in its body,
 * what `argus train` builds from its flags, and what a trained version keeps in its manifest's
 * `training` field (so the next job can reuse it with an empty body). `parseTrainingJobSpec`
 * turns untrusted JSON into the canonical form below, refusing unknown keys and naming the first
 * problem.
 *
 * ```json
 * { "kind": "mlp", "hidden": [64], "epochs": 50, "seed": 3,
 *   "data": { "source": "file", "path": "iris.csv", "target": "species" },
 *   "split": { "seed": 3, "validation": 0.15, "test": 0.15 },
 *   "gate": { "metric": "accuracy", "max_regression": 0.005 } }
 * { "kind": "mlp", "data": { "source": "log", "since": "24h", "include_reference": true } }
 * { "kind": "external", "command": "python3 train.py --train {train} --val {val} --out {model}",
 *   "timeout_s": 600, "data": { "source": "file", "path": "data.csv", "target": "y" } }
 * ```
 */
export const JOB_TRAINER_KINDS = [
  'softmax-regression',
  'mlp-classifier',
  'mlp-regressor',
  'external',
] as const;
export type JobTrainerKind = (typeof JOB_TRAINER_KINDS)[number];
export type BuiltInTrainerKind = Exclude<JobTrainerKind, 'external'>;

/** Short names the CLI and the demo's stored spec use. */
const KIND_ALIASES: Record<string, JobTrainerKind> = {
  softmax: 'softmax-regression',
  mlp: 'mlp-classifier',
  'softmax-regression': 'softmax-regression',
  'mlp-classifier': 'mlp-classifier',
  'mlp-regressor': 'mlp-regressor',
  external: 'external',
};

/** Placeholders an external command may use; each becomes one argv element's text. */
export const EXTERNAL_PLACEHOLDERS = [
  'train',
  'val',
  'train_jsonl',
  'val_jsonl',
  'schema',
  'model',
  'workdir',
] as const;

export type DataSourceSpec =
  | { source: 'file'; path: string; target: string; features: string[] | null }
  | {
      source: 'log';
      /** Window: the last `since` (e.g. "24h") before the job starts, or [from, to) in ms. */
      since: string | null;
      from: number | null;
      to: number | null;
      version: number | null;
      limit: number;
      include_reference: boolean;
    }
  | { source: 'mnist' };

export interface ExternalTrainerSpec {
  command: string;
  timeout_s: number;
  /** Working directory of the command; null = the Argus process's. */
  cwd: string | null;
}

export interface TrainingJobSpec {
  kind: JobTrainerKind;
  /** External trainers only: the task when there is no champion to take it from. */
  task: Task | null;
  data: DataSourceSpec;
  /** Declared class names (output order); default: the champion's, else those in the data. */
  classes: string[] | null;
  /** Built-in trainers' options (DenseTrainingOptions keys); validated, defaults not filled in. */
  options: Partial<DenseTrainingOptions>;
  split: SplitOptions;
  gate: Partial<GateRule>;
  reference_sample_size: number;
  external: ExternalTrainerSpec | null;
}

export const DEFAULT_EXTERNAL_TIMEOUT_S = 600;
export const MAX_EXTERNAL_TIMEOUT_S = 24 * 3600;
export const DEFAULT_JOB_REFERENCE_SAMPLE_SIZE = 500;
const MAX_REFERENCE_SAMPLE_SIZE = 10_000;

const SPEC_KEYS = new Set([
  'kind',
  'task',
  'data',
  'dataset',
  'classes',
  'options',
  'hidden',
  'epochs',
  'seed',
  'split',
  'gate',
  'reference_sample_size',
  'command',
  'timeout_s',
  'cwd',
]);

const GATE_METRICS_BY_TASK: Record<Task, GateMetric[]> = {
  classification: ['accuracy', 'macroF1', 'logLoss'],
  regression: ['rmse', 'mae', 'r2'],
};

export function taskOfKind(kind: BuiltInTrainerKind): Task {
  return kind === 'mlp-regressor' ? 'regression' : 'classification';
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function refuseUnknownKeys(value: Record<string, unknown>, allowed: string[], where: string): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      throw new InvalidInputError(
        `${where} has unknown key '${key}'; allowed: ${allowed.join(', ')}`,
      );
    }
  }
}

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/;
const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** "24h", "30m", "7d", "90s", "1w", "500ms" → milliseconds. */
export function parseDuration(text: string, what = 'duration'): number {
  const match = DURATION.exec(text.trim());
  const ms = match ? Number(match[1]) * UNIT_MS[match[2]] : NaN;
  if (!(ms > 0 && Number.isFinite(ms))) {
    throw new InvalidInputError(
      `${what} must look like 24h, 30m, 7d, 90s or 500ms, got ${JSON.stringify(text)}`,
    );
  }
  return ms;
}

/** An ISO 8601 time or milliseconds since the epoch. */
function parseTime(value: unknown, what: string): number {
  const ms =
    typeof value === 'number' ? value : typeof value === 'string' ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms)) {
    throw new InvalidInputError(`${what} must be an ISO 8601 time or milliseconds since the epoch`);
  }
  return ms;
}

function stringList(value: unknown, what: string): string[] {
  if (
    !Array.isArray(value) ||
    value.length === 0 ||
    value.some((v) => typeof v !== 'string' || v === '')
  ) {
    throw new InvalidInputError(`${what} must be a non-empty array of non-empty strings`);
  }
  const list = value as string[];
  const seen = new Set<string>();
  for (const name of list) {
    if (seen.has(name)) throw new InvalidInputError(`${what} names '${name}' twice`);
    seen.add(name);
  }
  return list;
}

function parseData(raw: unknown): DataSourceSpec {
  if (raw === undefined || raw === null) {
    throw new InvalidInputError(
      "the spec has no data: give data: {source: 'file', path, target} or {source: 'log', since: '24h'}",
    );
  }
  if (raw === 'mnist') return { source: 'mnist' };
  if (!isObject(raw)) {
    throw new InvalidInputError("data must be an object with 'source': file, log or mnist");
  }
  switch (raw.source) {
    case 'file': {
      refuseUnknownKeys(raw, ['source', 'path', 'target', 'features'], 'data');
      if (typeof raw.path !== 'string' || raw.path === '') {
        throw new InvalidInputError('data.path is missing: name the CSV or JSONL file');
      }
      if (!/\.(csv|jsonl|ndjson)$/i.test(raw.path)) {
        throw new InvalidInputError(`data.path '${raw.path}' must end in .csv, .jsonl or .ndjson`);
      }
      if (typeof raw.target !== 'string' || raw.target === '') {
        throw new InvalidInputError('data.target is missing: name the target column');
      }
      const features =
        raw.features === undefined || raw.features === null
          ? null
          : stringList(raw.features, 'data.features');
      return { source: 'file', path: raw.path, target: raw.target, features };
    }
    case 'log': {
      refuseUnknownKeys(
        raw,
        ['source', 'since', 'from', 'to', 'version', 'limit', 'include_reference'],
        'data',
      );
      const hasWindow = raw.from !== undefined || raw.to !== undefined;
      if (raw.since !== undefined && hasWindow) {
        throw new InvalidInputError("data: give either 'since' or 'from'/'to', not both");
      }
      let since: string | null = null;
      let from: number | null = null;
      let to: number | null = null;
      if (hasWindow) {
        if (raw.from === undefined) throw new InvalidInputError("data.from is missing (with 'to')");
        from = parseTime(raw.from, 'data.from');
        to = raw.to === undefined ? null : parseTime(raw.to, 'data.to');
        if (to !== null && !(from < to)) {
          throw new InvalidInputError('data.from must be before data.to');
        }
      } else {
        const given = raw.since ?? '24h';
        if (typeof given === 'number') since = `${given}ms`;
        else if (typeof given === 'string') since = given;
        else throw new InvalidInputError('data.since must be a duration such as 24h');
        parseDuration(since, 'data.since');
      }
      const limit = raw.limit ?? DEFAULT_LOG_ROW_LIMIT;
      if (
        typeof limit !== 'number' ||
        !Number.isInteger(limit) ||
        limit < 1 ||
        limit > 10_000_000
      ) {
        throw new InvalidInputError('data.limit must be an integer in 1..10000000');
      }
      if (raw.include_reference !== undefined && typeof raw.include_reference !== 'boolean') {
        throw new InvalidInputError('data.include_reference must be true or false');
      }
      return {
        source: 'log',
        since,
        from,
        to,
        version:
          raw.version === undefined || raw.version === null ? null : parseVersion(raw.version),
        limit,
        include_reference: raw.include_reference === true,
      };
    }
    case 'mnist':
      refuseUnknownKeys(raw, ['source'], 'data');
      return { source: 'mnist' };
    default:
      throw new InvalidInputError(
        `unknown data source ${JSON.stringify(raw.source)}; one of file, log, mnist`,
      );
  }
}

function parseSplit(raw: unknown, seed: number | undefined): SplitOptions {
  const split: SplitOptions = { ...DEFAULT_SPLIT, ...(seed !== undefined ? { seed } : {}) };
  if (raw === undefined || raw === null) return split;
  if (!isObject(raw)) throw new InvalidInputError('split must be an object');
  refuseUnknownKeys(raw, ['seed', 'validation', 'test'], 'split');
  if (raw.seed !== undefined) split.seed = raw.seed as number;
  if (raw.validation !== undefined) split.validationFraction = raw.validation as number;
  if (raw.test !== undefined) split.testFraction = raw.test as number;
  checkSplitOptions(split);
  return split;
}

function parseGate(raw: unknown): Partial<GateRule> {
  if (raw === undefined || raw === null) return {};
  if (!isObject(raw)) throw new InvalidInputError('gate must be an object');
  const keys = [
    'metric',
    'max_regression',
    'maxRegression',
    'mode',
    'max_latency_ratio',
    'maxLatencyRatio',
  ];
  refuseUnknownKeys(raw, keys, 'gate');
  const gate: Partial<GateRule> = {};
  if (raw.metric !== undefined) gate.metric = raw.metric as GateMetric;
  const maxRegression = raw.max_regression ?? raw.maxRegression;
  if (maxRegression !== undefined) {
    if (
      typeof maxRegression !== 'number' ||
      !(maxRegression >= 0) ||
      !Number.isFinite(maxRegression)
    ) {
      throw new InvalidInputError('gate.max_regression must be a finite number >= 0');
    }
    gate.maxRegression = maxRegression;
  }
  if (raw.mode !== undefined) {
    if (raw.mode !== 'absolute' && raw.mode !== 'relative') {
      throw new InvalidInputError("gate.mode must be 'absolute' or 'relative'");
    }
    gate.mode = raw.mode;
  }
  const ratio = raw.max_latency_ratio ?? raw.maxLatencyRatio;
  if (ratio !== undefined && ratio !== null) {
    if (typeof ratio !== 'number' || !(ratio > 0) || !Number.isFinite(ratio)) {
      throw new InvalidInputError('gate.max_latency_ratio must be a number > 0');
    }
    gate.maxLatencyRatio = ratio;
  }
  return gate;
}

/** Checks the gate's metric against the task, once the task is known. */
export function checkGateForTask(gate: Partial<GateRule>, task: Task): void {
  if (gate.metric !== undefined && !GATE_METRICS_BY_TASK[task].includes(gate.metric)) {
    throw new InvalidInputError(
      `gate metric '${String(gate.metric)}' does not apply to ${task}; one of ${GATE_METRICS_BY_TASK[task].join(', ')}`,
    );
  }
}

/** Splits a command template into argv the way a POSIX shell would, without expanding anything. */
export function splitCommandTemplate(template: string): string[] {
  const argv: string[] = [];
  let current = '';
  let inToken = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < template.length; i++) {
    const ch = template[i];
    if (quote === "'") {
      if (ch === "'") quote = null;
      else current += ch;
      continue;
    }
    if (quote === '"') {
      if (ch === '"') quote = null;
      else if (ch === '\\' && (template[i + 1] === '"' || template[i + 1] === '\\')) {
        current += template[++i];
      } else current += ch;
      continue;
    }
    if (ch === "'" || ch === '"') {
      quote = ch;
      inToken = true;
    } else if (ch === '\\' && i + 1 < template.length) {
      current += template[++i];
      inToken = true;
    } else if (/\s/.test(ch)) {
      if (inToken) argv.push(current);
      current = '';
      inToken = false;
    } else {
      current += ch;
      inToken = true;
    }
  }
  if (quote) throw new InvalidInputError(`the command has an unterminated ${quote} quote`);
  if (inToken) argv.push(current);
  return argv;
}

/**
 * Replaces `{name}` placeholders in each argv element. Because the template was split first, a
 * substituted path is always exactly one argument: spaces, quotes or `;` in it mean nothing.
 */
export function substitutePlaceholders(argv: string[], values: Record<string, string>): string[] {
  return argv.map((arg) =>
    arg.replace(/\{([A-Za-z_]+)\}/g, (whole, name: string) => {
      const value = values[name];
      if (value === undefined) {
        throw new InvalidInputError(
          `unknown placeholder ${whole} in the command; known: ${EXTERNAL_PLACEHOLDERS.map((p) => `{${p}}`).join(' ')}`,
        );
      }
      return value;
    }),
  );
}

function parseExternal(raw: Record<string, unknown>): ExternalTrainerSpec {
  if (typeof raw.command !== 'string' || raw.command.trim() === '') {
    throw new InvalidInputError(
      'an external trainer needs \'command\', e.g. "python3 train.py --train {train} --val {val} --out {model}"',
    );
  }
  const argv = splitCommandTemplate(raw.command);
  if (argv.length === 0) throw new InvalidInputError('the command is empty');
  // Placeholders are checked now, so a typo is a 400 at submission rather than a failed job.
  const probe = Object.fromEntries(EXTERNAL_PLACEHOLDERS.map((p) => [p, p]));
  substitutePlaceholders(argv, probe);
  if (!argv.some((arg) => arg.includes('{model}'))) {
    throw new InvalidInputError(
      'the command must name its output file with the {model} placeholder',
    );
  }
  const timeout = raw.timeout_s ?? DEFAULT_EXTERNAL_TIMEOUT_S;
  if (typeof timeout !== 'number' || !(timeout > 0) || timeout > MAX_EXTERNAL_TIMEOUT_S) {
    throw new InvalidInputError(`timeout_s must be a number in (0, ${MAX_EXTERNAL_TIMEOUT_S}]`);
  }
  if (
    raw.cwd !== undefined &&
    raw.cwd !== null &&
    (typeof raw.cwd !== 'string' || raw.cwd === '')
  ) {
    throw new InvalidInputError('cwd must be a directory path');
  }
  return { command: raw.command, timeout_s: timeout, cwd: (raw.cwd as string | undefined) ?? null };
}

export function parseTrainingJobSpec(raw: unknown): TrainingJobSpec {
  if (!isObject(raw)) throw new InvalidInputError('the training spec must be a JSON object');
  refuseUnknownKeys(raw, [...SPEC_KEYS], 'the training spec');
  if (raw.kind === undefined) {
    throw new InvalidInputError(
      `the training spec has no 'kind'; one of mlp, softmax, mlp-regressor, external (or ${JOB_TRAINER_KINDS.join(', ')})`,
    );
  }
  const kind = typeof raw.kind === 'string' ? KIND_ALIASES[raw.kind] : undefined;
  if (!kind) {
    throw new InvalidInputError(
      `unknown trainer kind ${JSON.stringify(raw.kind)}; one of mlp, softmax, mlp-regressor, external`,
    );
  }
  if (raw.data !== undefined && raw.dataset !== undefined) {
    throw new InvalidInputError("give either 'data' or 'dataset', not both");
  }
  const data = parseData(raw.data ?? raw.dataset);

  let task: Task | null = null;
  if (raw.task !== undefined && raw.task !== null) {
    if (raw.task !== 'classification' && raw.task !== 'regression') {
      throw new InvalidInputError("task must be 'classification' or 'regression'");
    }
    if (kind !== 'external' && raw.task !== taskOfKind(kind)) {
      throw new InvalidInputError(
        `trainer '${kind}' is a ${taskOfKind(kind)} trainer, not ${raw.task}`,
      );
    }
    task = raw.task;
  }
  const classes =
    raw.classes === undefined || raw.classes === null ? null : stringList(raw.classes, 'classes');
  if (classes && classes.length < 2) {
    throw new InvalidInputError('classes must name at least two classes');
  }

  const optionsRaw = raw.options ?? {};
  if (!isObject(optionsRaw)) throw new InvalidInputError('options must be an object');
  const options: Partial<DenseTrainingOptions> = {
    ...(data.source === 'mnist' ? MNIST_DEMO_OPTIONS : {}),
    ...(optionsRaw as Partial<DenseTrainingOptions>),
  };
  if (raw.hidden !== undefined) {
    const hidden = typeof raw.hidden === 'number' ? [raw.hidden] : raw.hidden;
    if (!Array.isArray(hidden)) {
      throw new InvalidInputError('hidden must be a layer width or a list of widths');
    }
    options.hiddenLayers = hidden as number[];
  }
  if (raw.epochs !== undefined) options.maxEpochs = raw.epochs as number;
  if (raw.seed !== undefined) options.seed = raw.seed as number;
  if (kind === 'softmax-regression') {
    const asked = raw.hidden ?? (optionsRaw as Partial<DenseTrainingOptions>).hiddenLayers;
    if (asked !== undefined && !(Array.isArray(asked) && asked.length === 0)) {
      throw new InvalidInputError('softmax has no hidden layers; use kind mlp for hidden layers');
    }
    options.hiddenLayers = [];
  }
  let external: ExternalTrainerSpec | null = null;
  if (kind === 'external') {
    external = parseExternal(raw);
  } else {
    for (const key of ['command', 'timeout_s', 'cwd']) {
      if (raw[key] !== undefined) {
        throw new InvalidInputError(`'${key}' only applies to kind external`);
      }
    }
    // Every option checked now (unknown keys, ranges), so a bad spec is refused at submission.
    resolveTrainingOptions(options);
  }
  if (kind !== 'external' && data.source === 'mnist' && kind === 'mlp-regressor') {
    throw new InvalidInputError('the mnist data set is a classification data set');
  }
  const seed = typeof raw.seed === 'number' ? raw.seed : undefined;
  const split = parseSplit(raw.split, seed);
  const gate = parseGate(raw.gate);
  const knownTask = kind === 'external' ? task : taskOfKind(kind);
  if (knownTask) checkGateForTask(gate, knownTask);
  const size = raw.reference_sample_size ?? DEFAULT_JOB_REFERENCE_SAMPLE_SIZE;
  if (
    typeof size !== 'number' ||
    !Number.isInteger(size) ||
    size < 0 ||
    size > MAX_REFERENCE_SAMPLE_SIZE
  ) {
    throw new InvalidInputError(
      `reference_sample_size must be an integer in 0..${MAX_REFERENCE_SAMPLE_SIZE}`,
    );
  }
  return {
    kind,
    task,
    data,
    classes,
    options,
    split,
    gate,
    reference_sample_size: size,
    external,
  };
}

/**
 * The spec as it is stored in a trained version's manifest `training` field, in the same JSON
 * shape `parseTrainingJobSpec` reads back (so "retrain with the stored spec" is a round trip).
 */
export function storableTrainingSpec(spec: TrainingJobSpec): Record<string, unknown> {
  const data: Record<string, unknown> =
    spec.data.source === 'log'
      ? {
          source: 'log',
          ...(spec.data.since !== null ? { since: spec.data.since } : {}),
          ...(spec.data.from !== null ? { from: spec.data.from } : {}),
          ...(spec.data.to !== null ? { to: spec.data.to } : {}),
          ...(spec.data.version !== null ? { version: spec.data.version } : {}),
          limit: spec.data.limit,
          include_reference: spec.data.include_reference,
        }
      : spec.data.source === 'file'
        ? {
            source: 'file',
            path: spec.data.path,
            target: spec.data.target,
            ...(spec.data.features ? { features: spec.data.features } : {}),
          }
        : { source: 'mnist' };
  return {
    kind: spec.kind,
    ...(spec.task ? { task: spec.task } : {}),
    data,
    ...(spec.classes ? { classes: spec.classes } : {}),
    ...(spec.kind !== 'external' ? { options: spec.options } : {}),
    split: {
      seed: spec.split.seed,
      validation: spec.split.validationFraction,
      test: spec.split.testFraction,
    },
    gate: {
      ...(spec.gate.metric !== undefined ? { metric: spec.gate.metric } : {}),
      ...(spec.gate.maxRegression !== undefined ? { max_regression: spec.gate.maxRegression } : {}),
      ...(spec.gate.mode !== undefined ? { mode: spec.gate.mode } : {}),
      ...(spec.gate.maxLatencyRatio !== undefined && spec.gate.maxLatencyRatio !== null
        ? { max_latency_ratio: spec.gate.maxLatencyRatio }
        : {}),
    },
    reference_sample_size: spec.reference_sample_size,
    ...(spec.external
      ? {
          command: spec.external.command,
          timeout_s: spec.external.timeout_s,
          ...(spec.external.cwd ? { cwd: spec.external.cwd } : {}),
        }
      : {}),
  };
}
