import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { InvalidInputError } from '../common/errors';
import { decodeV1Instances, predictionsFromOutputs, V1Prediction } from '../inference/codecs';
import { TensorData } from '../onnx/tensor';
import { LoggedFloats, PredictionRecord } from '../predictions/prediction-record';
import { OnnxRuntime } from '../onnx/onnx-runtime';
import { ModelRegistry } from '../registry/model-registry';
import { ModelManifest } from '../registry/manifest';
import { fileSize, readRows, SourceRow } from './row-source';
import { ProgressBar } from './progress';

export interface OfflinePredictOptions {
  model: string;
  version?: number;
  input: string;
  output: string;
  chunkRows: number;
  /** `--log`: also write every prediction to the analytical store. */
  log?: OfflinePredictionLog;
}

/**
 * Where `argus predict --log` writes its predictions: straight to the store, in batches of
 * `batchRows`. A batch is written before its lines reach the output file, so every
 * `prediction_id` in the output file is a stored id (a failure stops the run with the file
 * holding exactly the logged rows).
 */
export interface OfflinePredictionLog {
  write(records: PredictionRecord[]): Promise<void>;
  /** The input-logging policy (ARGUS_LOG_INPUTS, width cap), as the server applies it. */
  shouldLogInputs(width: number): boolean;
  batchRows: number;
}

export interface OfflinePredictSummary {
  model: string;
  version: number;
  rows: number;
  /** Rows written to the store (`--log`), 0 otherwise. */
  logged: number;
  /** The request_id shared by the logged rows of this run. */
  requestId?: string;
  seconds: number;
}

/**
 * Runs a registered model over a file without a server: rows are read, predicted and written in
 * chunks, so memory stays flat however large the file is.
 */
export async function predictFile(
  registry: ModelRegistry,
  runtime: OnnxRuntime,
  options: OfflinePredictOptions,
): Promise<OfflinePredictSummary> {
  const version =
    options.version ??
    (await registry.resolveAlias(options.model, 'champion')) ??
    (await registry.getModel(options.model)).versions.at(-1)!.version;
  const { manifest, bytes } = await registry.readModel(options.model, version);
  const session = await runtime.load(bytes, { intraOpThreads: 0 });
  const out = createWriteStream(options.output);
  const started = Date.now();
  const total = fileSize(options.input);
  const progress = new ProgressBar(`predict ${manifest.name}@${version}`, total);
  let rows = 0;
  let logged = 0;
  let chunk: SourceRow[] = [];
  // --log: records and output lines wait here until their batch is in the store.
  const requestId = randomUUID();
  let pendingRecords: PredictionRecord[] = [];
  let pendingText = '';
  const writeOut = async (text: string) => {
    if (text !== '' && !out.write(text)) await once(out, 'drain');
  };
  const flushLog = async () => {
    if (!options.log || pendingRecords.length === 0) return;
    await options.log.write(pendingRecords);
    logged += pendingRecords.length;
    pendingRecords = [];
    const text = pendingText;
    pendingText = '';
    await writeOut(text);
  };

  const flush = async () => {
    if (chunk.length === 0) return;
    const instances = chunk.map((r) => ('values' in r ? r.values : toInstance(r.named, manifest)));
    let decoded;
    try {
      decoded = decodeV1Instances({ instances }, manifest, Number.MAX_SAFE_INTEGER);
    } catch (err) {
      // Point at the file line, not at the chunk-relative index.
      const m = /^instances\[(\d+)\]/.exec((err as Error).message);
      if (m) {
        const row = chunk[Number(m[1])];
        throw new InvalidInputError(
          `${options.input}:${row.line}: ${(err as Error).message.replace(/^instances\[\d+\]/, 'row')}`,
        );
      }
      throw err;
    }
    const runStarted = process.hrtime.bigint();
    const outputs = await session.run([decoded.input]);
    const latencyUs = Math.round(Number(process.hrtime.bigint() - runStarted) / 1000);
    const predictions = predictionsFromOutputs(manifest, outputs, decoded.rows);
    const ids = predictions.map(() => randomUUID());
    let text = '';
    predictions.forEach((p, i) => (text += JSON.stringify({ prediction_id: ids[i], ...p }) + '\n'));
    rows += chunk.length;
    chunk = [];
    if (!options.log) {
      await writeOut(text);
      return;
    }
    const log = options.log;
    const inputs = decoded.input.data;
    const width = decoded.rows > 0 ? inputs.length / decoded.rows : 0;
    const keepInputs = !Array.isArray(inputs) && log.shouldLogInputs(width);
    const now = Date.now();
    predictions.forEach((p, i) => {
      pendingRecords.push(
        offlineRecord(manifest, p, {
          id: ids[i],
          requestId,
          ts: now,
          inputs: keepInputs ? float32Row(inputs, i, width) : [],
          latencyUs,
          batchSize: decoded.rows,
        }),
      );
    });
    pendingText += text;
    if (pendingRecords.length >= log.batchRows) await flushLog();
  };

  try {
    for await (const row of readRows(options.input, (b) => progress.update(b, `${rows} rows`))) {
      chunk.push(row);
      if (chunk.length >= options.chunkRows) await flush();
    }
    await flush();
    await flushLog();
  } finally {
    out.end();
    await once(out, 'close');
    await session.release();
  }
  progress.finish(`${rows} rows`);
  return {
    model: manifest.name,
    version,
    rows,
    logged,
    ...(options.log ? { requestId } : {}),
    seconds: (Date.now() - started) / 1000,
  };
}

/** Row `r` of a typed tensor as a Float32Array (what the `inputs` column stores). */
function float32Row(data: Exclude<TensorData, string[]>, r: number, width: number): Float32Array {
  if (data instanceof Float32Array) return data.slice(r * width, (r + 1) * width);
  const row = new Float32Array(width);
  for (let k = 0; k < width; k++) row[k] = Number(data[r * width + k]);
  return row;
}

/**
 * One offline prediction as a `predictions` record, filled like the server fills them
 * (InferenceService): route and protocol `cli`, so monitoring can tell offline scoring from live
 * traffic; `latency_us` is the ONNX Runtime time of the chunk the row was in.
 */
function offlineRecord(
  manifest: ModelManifest,
  prediction: V1Prediction,
  row: {
    id: string;
    requestId: string;
    ts: number;
    inputs: LoggedFloats;
    latencyUs: number;
    batchSize: number;
  },
): PredictionRecord {
  let scores: number[];
  let label = '';
  let value: number | null = null;
  if ('probabilities' in prediction) {
    scores = prediction.probabilities;
    label = prediction.label;
  } else {
    scores = Array.isArray(prediction.value) ? prediction.value : [prediction.value];
    if (manifest.task === 'regression') value = scores[0] ?? null;
  }
  return {
    id: row.id,
    request_id: row.requestId,
    ts: row.ts,
    model: manifest.name,
    model_version: manifest.version,
    route: 'cli',
    client_id: '',
    trace_id: '',
    span_id: '',
    inputs: row.inputs,
    scores,
    label,
    value,
    latency_us: row.latencyUs,
    batch_size: row.batchSize,
    status: 200,
    error: '',
    protocol: 'cli',
  };
}

/**
 * CSV rows (named by the header) and JSONL objects: by feature name when the model has names, else
 * in header order. With names, a row whose keys do not match is passed on as an object so the
 * decoder reports the unknown or missing features instead of reading the values by position.
 */
function toInstance(named: Record<string, unknown>, manifest: ModelManifest): unknown {
  if (manifest.feature_names) {
    if (!manifest.feature_names.every((f) => f in named)) return named;
    const obj: Record<string, unknown> = {};
    for (const f of manifest.feature_names) obj[f] = named[f];
    return obj;
  }
  return Object.values(named);
}
