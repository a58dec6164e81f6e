import Fastify, { FastifyInstance, FastifyReply } from 'fastify';
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { runAsBenchChild } from '../serving/child';

/**
 * The serving benchmark's baseline: the least a Node server can do to answer the same requests as
 * Argus — Fastify, its built-in JSON body parser, a minimal shape/type check, one Float32Array,
 * one `session.run` per request (no batching, no queue, no ids, no metrics), and a JSON answer.
 *
 * Session options are the ones Argus uses (src/onnx/onnx-runtime.ts, `OnnxRuntime.load`):
 * intraOpNumThreads 1, interOpNumThreads 1, graphOptimizationLevel 'all'. Keep them in sync, or
 * the comparison measures ONNX Runtime settings instead of serving overhead.
 *
 * Routes (only the model it was started with; anything else is 404):
 *   POST /v1/models/{m}/predict  {"instances": [[...features], ...]}
 *     → {"model", "predictions": [{"label", "probabilities"}]}
 *   POST /v2/models/{m}/infer    {"inputs": [{"name", "shape": [n, F], "datatype": "FP32", "data"}]}
 *     → {"model_name", "model_version", "id"?, "outputs": [{"name", "shape", "datatype", "data"}]}
 *     or, with Inference-Header-Content-Length (KServe V2's binary tensor data extension), that
 *     JSON header with `parameters.binary_data_size` instead of `data`, then the input's FP32
 *     bytes; the answer is JSON either way.
 *
 * Stand-alone: BARE_MODEL=path.onnx [BARE_MODEL_NAME=mnist] [PORT=0]
 *   node -r ts-node/register/transpile-only bench/baselines/bare-fastify-server.ts
 */

export const BARE_SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
};

export interface BareServerOptions {
  model: Uint8Array;
  modelName: string;
  /** Class names by index, as Argus takes them from the model metadata. */
  classNames?: string[];
  port?: number;
  /** Same default as Argus (ARGUS_BODY_LIMIT_BYTES) and the same row limit (ARGUS_MAX_ROWS_PER_REQUEST). */
  bodyLimitBytes?: number;
  maxRows?: number;
}

export interface BareServer {
  url: string;
  /** The Fastify instance (for `inject` in in-process experiments). */
  app: FastifyInstance;
  close(): Promise<void>;
}

class BadRequest extends Error {}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fail(reply: FastifyReply, status: number, message: string) {
  return reply.status(status).send({ error: message });
}

export async function startBareServer(options: BareServerOptions): Promise<BareServer> {
  const session = await ort.InferenceSession.create(options.model, BARE_SESSION_OPTIONS);
  const inputName = session.inputNames[0];
  const inputMeta = session.inputMetadata[0];
  const width =
    inputMeta.isTensor && typeof inputMeta.shape[1] === 'number' ? inputMeta.shape[1] : -1;
  if (session.inputNames.length !== 1 || width <= 0) {
    throw new Error('the bare server handles models with one [batch, features] input');
  }
  const maxRows = options.maxRows ?? 4096;
  const classNames = options.classNames;

  const run = async (data: Float32Array, rows: number) => {
    const out = await session.run({ [inputName]: new ort.Tensor('float32', data, [rows, width]) });
    const probabilities = out.probabilities;
    const label = out.label;
    if (!probabilities || !label) throw new Error('model lacks probabilities/label outputs');
    return { out, probabilities: probabilities.data as Float32Array, label: label.data };
  };

  /** Copies one row of JSON numbers into the feature buffer. */
  const putRow = (row: unknown, data: Float32Array, offset: number, field: string): void => {
    if (!Array.isArray(row) || row.length !== width) {
      throw new BadRequest(`${field} must be an array of ${width} numbers`);
    }
    for (let c = 0; c < width; c++) {
      const v: unknown = row[c];
      if (typeof v !== 'number') throw new BadRequest(`${field}[${c}] must be a number`);
      data[offset + c] = v;
    }
  };

  const app: FastifyInstance = Fastify({
    logger: false,
    bodyLimit: options.bodyLimitBytes ?? 16 * 1024 * 1024,
  });
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_req, body, done) =>
    done(null, body),
  );

  app.post<{ Params: { model: string }; Body: unknown }>(
    '/v1/models/:model/predict',
    async (req, reply) => {
      if (req.params.model !== options.modelName) return fail(reply, 404, 'unknown model');
      const body = req.body;
      const instances = isObject(body) ? body.instances : undefined;
      if (!Array.isArray(instances) || instances.length === 0 || instances.length > maxRows) {
        return fail(reply, 400, `"instances" must be an array of 1..${maxRows} rows`);
      }
      const rows = instances.length;
      const data = new Float32Array(rows * width);
      try {
        for (let r = 0; r < rows; r++) putRow(instances[r], data, r * width, `instances[${r}]`);
      } catch (err) {
        if (err instanceof BadRequest) return fail(reply, 400, err.message);
        throw err;
      }
      const { probabilities, label } = await run(data, rows);
      const classes = probabilities.length / rows;
      const predictions = new Array<{ label: string; probabilities: number[] }>(rows);
      for (let r = 0; r < rows; r++) {
        const index = Number(label[r]);
        predictions[r] = {
          label: classNames?.[index] ?? String(index),
          probabilities: Array.from(probabilities.subarray(r * classes, (r + 1) * classes)),
        };
      }
      return { model: options.modelName, predictions };
    },
  );

  const answerV2 = (body: unknown, { out }: { out: ort.InferenceSession.OnnxValueMapType }) => ({
    model_name: options.modelName,
    model_version: '1',
    ...(isObject(body) && typeof body.id === 'string' ? { id: body.id } : {}),
    outputs: session.outputNames.map((name) => {
      const t = out[name];
      const values = t.data as Float32Array | BigInt64Array;
      return {
        name,
        shape: t.dims,
        datatype: t.type === 'int64' ? 'INT64' : 'FP32',
        data: Array.from(values, (v: number | bigint) => Number(v)),
      };
    }),
  });

  app.post<{ Params: { model: string }; Body: unknown }>(
    '/v2/models/:model/infer',
    async (req, reply) => {
      if (req.params.model !== options.modelName) return fail(reply, 404, 'unknown model');
      const headerLength = Number(req.headers['inference-header-content-length']);
      let body = req.body;
      let binary: Buffer | undefined;
      if (Buffer.isBuffer(body) && Number.isInteger(headerLength) && headerLength <= body.length) {
        binary = body.subarray(headerLength);
        try {
          body = JSON.parse(body.toString('utf8', 0, headerLength)) as unknown;
        } catch {
          return fail(reply, 400, 'the inference header is not JSON');
        }
      }
      const inputs = isObject(body) ? body.inputs : undefined;
      const tensor: unknown = Array.isArray(inputs) && inputs.length === 1 ? inputs[0] : undefined;
      if (!isObject(tensor) || tensor.name !== inputName || tensor.datatype !== 'FP32') {
        return fail(reply, 400, `"inputs" must hold one FP32 tensor named '${inputName}'`);
      }
      const shape = tensor.shape;
      if (
        !Array.isArray(shape) ||
        shape.length !== 2 ||
        !Number.isInteger(shape[0]) ||
        shape[1] !== width
      ) {
        return fail(reply, 400, `shape must be [rows, ${width}]`);
      }
      const rows = shape[0] as number;
      if (rows < 1 || rows > maxRows) return fail(reply, 400, `rows must be in 1..${maxRows}`);
      if (binary !== undefined) {
        if (binary.length !== rows * width * 4) {
          return fail(reply, 400, `binary data must hold ${rows * width} FP32 values`);
        }
        const data = new Float32Array(rows * width);
        new Uint8Array(data.buffer).set(binary);
        return answerV2(body, await run(data, rows));
      }
      const raw = tensor.data;
      if (!Array.isArray(raw)) return fail(reply, 400, 'data must be an array');
      const data = new Float32Array(rows * width);
      try {
        if (raw.length === rows && Array.isArray(raw[0])) {
          for (let r = 0; r < rows; r++) putRow(raw[r], data, r * width, `data[${r}]`);
        } else {
          if (raw.length !== rows * width) throw new BadRequest(`data must hold ${rows * width}`);
          for (let i = 0; i < raw.length; i++) {
            const v: unknown = raw[i];
            if (typeof v !== 'number') throw new BadRequest(`data[${i}] must be a number`);
            data[i] = v;
          }
        }
      } catch (err) {
        if (err instanceof BadRequest) return fail(reply, 400, err.message);
        throw err;
      }
      return answerV2(body, await run(data, rows));
    },
  );

  await app.listen({ port: options.port ?? 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    url: `http://127.0.0.1:${port}`,
    app,
    close: async () => {
      await app.close();
      await session.release();
    },
  };
}

if (require.main === module) {
  runAsBenchChild(async () => {
    const modelPath = process.env.BARE_MODEL;
    if (!modelPath) throw new Error('BARE_MODEL (path to the .onnx file) is required');
    const classNames = process.env.BARE_CLASS_NAMES
      ? process.env.BARE_CLASS_NAMES.split(',')
      : undefined;
    const server = await startBareServer({
      model: readFileSync(modelPath),
      modelName: process.env.BARE_MODEL_NAME ?? 'mnist',
      classNames,
      port: Number(process.env.PORT ?? 0),
    });
    return { ...server, details: { sessionOptions: BARE_SESSION_OPTIONS } };
  });
}
