import { randomUUID } from 'node:crypto';
import { PredictionRecord } from '../../src/predictions/prediction-record';

/**
 * Prediction-like rows for the logging benchmark: 8 input features, 10 class scores (a softmax),
 * and the other columns filled the way a v2 request through a traced server fills them.
 */

export const FEATURES = 8;
export const CLASSES = 10;
const CLASS_NAMES = Array.from({ length: CLASSES }, (_, k) => `class_${k}`);

/** A small deterministic generator (LCG) so every run logs the same values. */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

export interface RowTemplate {
  /** A Float32Array, as the server logs inputs (a view of the request tensor). */
  inputs: Float32Array;
  scores: number[];
  label: string;
}

/** `count` distinct (inputs, scores, label) triples; records share them (the writer never mutates). */
export function rowTemplates(count: number, seed = 42): RowTemplate[] {
  const next = lcg(seed);
  const templates: RowTemplate[] = [];
  for (let t = 0; t < count; t++) {
    const inputs = Float32Array.from({ length: FEATURES }, () => next() * 20 - 10);
    const logits = Array.from({ length: CLASSES }, () => next() * 6 - 3);
    const max = Math.max(...logits);
    const exp = logits.map((l) => Math.exp(l - max));
    const sum = exp.reduce((a, b) => a + b, 0);
    const scores = exp.map((e) => Math.fround(e / sum));
    let best = 0;
    for (let k = 1; k < CLASSES; k++) if (scores[k] > scores[best]) best = k;
    templates.push({ inputs, scores, label: CLASS_NAMES[best] });
  }
  return templates;
}

function hex(length: number, next: () => number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += Math.floor(next() * 16).toString(16);
  return out;
}

/** Builds records with fresh ids; `ts` advances 1 ms per 20 rows from `startTs`. */
export class RecordFactory {
  private readonly templates: RowTemplate[];
  private readonly traceIds: string[];
  private readonly spanIds: string[];
  private readonly requestIds: string[];
  private n = 0;

  constructor(
    private readonly startTs = Date.now(),
    seed = 42,
  ) {
    this.templates = rowTemplates(256, seed);
    const next = lcg(seed + 1);
    this.traceIds = Array.from({ length: 64 }, () => hex(32, next));
    this.spanIds = Array.from({ length: 64 }, () => hex(16, next));
    this.requestIds = Array.from({ length: 64 }, () => randomUUID());
  }

  next(): PredictionRecord {
    const i = this.n++;
    const t = this.templates[i & 255];
    return {
      id: randomUUID(),
      request_id: this.requestIds[(i >>> 4) & 63],
      ts: this.startTs + Math.floor(i / 20),
      model: 'fraud_detector',
      model_version: 3,
      route: 'champion',
      client_id: '',
      trace_id: this.traceIds[(i >>> 4) & 63],
      span_id: this.spanIds[(i >>> 4) & 63],
      inputs: t.inputs,
      scores: t.scores,
      label: t.label,
      value: null,
      latency_us: 700 + (i % 500),
      batch_size: 16,
      status: 200,
      error: '',
      protocol: 'v2',
    };
  }
}
