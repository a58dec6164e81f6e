import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { InvalidInputError } from '../common/errors';
import { decodeV1Instances, predictionsFromOutputs } from '../inference/codecs';
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
}

export interface OfflinePredictSummary {
  model: string;
  version: number;
  rows: number;
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
  let chunk: SourceRow[] = [];

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
    const outputs = await session.run([decoded.input]);
    const predictions = predictionsFromOutputs(manifest, outputs, decoded.rows);
    let text = '';
    for (const p of predictions)
      text += JSON.stringify({ prediction_id: randomUUID(), ...p }) + '\n';
    if (!out.write(text)) await once(out, 'drain');
    rows += chunk.length;
    chunk = [];
  };

  try {
    for await (const row of readRows(options.input, (b) => progress.update(b, `${rows} rows`))) {
      chunk.push(row);
      if (chunk.length >= options.chunkRows) await flush();
    }
    await flush();
  } finally {
    out.end();
    await once(out, 'close');
    await session.release();
  }
  progress.finish(`${rows} rows`);
  return { model: manifest.name, version, rows, seconds: (Date.now() - started) / 1000 };
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
