import { randomUUID } from 'node:crypto';
import { compileLayout } from '../../../src/monitoring/monitoring-layout';
import { buildVersionProfile, VersionProfile } from '../../../src/monitoring/version-profile';
import { EvaluationTarget } from '../../../src/monitoring/window-evaluation';
import { FeedbackRecord } from '../../../src/predictions/prediction-record';
import { ModelManifest } from '../../../src/registry/manifest';
import { StoredPrediction } from '../../../src/store';

/** Seeded generators and a synthetic binary classifier whose probabilities are calibrated. */

export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function normal(random: () => number): number {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

export const CLASS_NAMES = ['negative', 'positive'];
export const FEATURES = ['signal', 'uniform', 'code'];

/** The profile of the synthetic classifier registered with `count` reference rows from `seed`. */
export function referenceProfile(count: number, seed: number): VersionProfile {
  const reference = syntheticRows(count, seed);
  return buildVersionProfile(
    classifierManifest(),
    {
      rows: reference.map((r) => r.inputs),
      outputs: reference.map((r) => r.scores),
      labels: reference.map((r) => CLASS_NAMES[r.actual]),
    },
    'registration',
  );
}

/** What `evaluateWindow` needs to evaluate version 1 of `model` against `profile`. */
export function classifierTarget(profile: VersionProfile, model = 'credit'): EvaluationTarget {
  return { model, version: 1, task: 'classification', classNames: CLASS_NAMES, profile };
}

export function classifierManifest(name = 'credit'): ModelManifest {
  return {
    name,
    version: 1,
    created_at: '2024-01-01T00:00:00.000Z',
    sha256: '0'.repeat(64),
    size_bytes: 1,
    task: 'classification',
    inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 3] }],
    outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 2] }],
    feature_names: FEATURES,
    class_names: CLASS_NAMES,
    primary_output: 'probabilities',
    label_output: null,
    batching: null,
    description: '',
    metadata: {},
    training: null,
    lineage: {
      parent_version: null,
      training_job_id: null,
      dataset: null,
      metrics: null,
      gate: null,
    },
  };
}

export interface SyntheticRow {
  inputs: number[];
  /** [P(negative), P(positive)] as float32, like the log stores them. */
  scores: number[];
  predicted: number;
  /** Drawn from the probability: the scores are calibrated by construction. */
  actual: number;
}

/** `shift` moves the `signal` feature (drift); the model stays the same function of it. */
export function syntheticRows(count: number, seed: number, shift = 0): SyntheticRow[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => {
    const signal = Math.fround(normal(random) + shift);
    const uniform = Math.fround(random() * 10);
    const code = Math.floor(random() * 3);
    const p = Math.fround(1 / (1 + Math.exp(-1.5 * signal)));
    const scores = [Math.fround(1 - p), p];
    return {
      inputs: [signal, uniform, code],
      scores,
      predicted: p >= 0.5 ? 1 : 0,
      actual: random() < p ? 1 : 0,
    };
  });
}

/** Stored predictions with feature bins computed against `profile` (what ingest does). */
export function storedPredictions(
  rows: readonly SyntheticRow[],
  profile: VersionProfile,
  ts: number,
  model = 'credit',
): StoredPrediction[] {
  const layout = compileLayout(profile);
  return rows.map((row, i) => ({
    id: randomUUID(),
    request_id: randomUUID(),
    ts: ts + i,
    model,
    model_version: 1,
    route: 'champion',
    client_id: '',
    trace_id: '',
    span_id: '',
    inputs: row.inputs,
    scores: row.scores,
    label: CLASS_NAMES[row.predicted],
    value: null,
    latency_us: 100,
    batch_size: 1,
    status: 200,
    error: '',
    protocol: 'v2',
    feature_bins: layout.binsOf(row.inputs, row.scores),
  }));
}

export function feedbackFor(
  predictions: readonly StoredPrediction[],
  rows: readonly SyntheticRow[],
  ts: number,
): FeedbackRecord[] {
  return predictions.map((p, i) => ({
    prediction_id: p.id,
    ts,
    label: CLASS_NAMES[rows[i].actual],
    value: null,
    source: 'test',
  }));
}
