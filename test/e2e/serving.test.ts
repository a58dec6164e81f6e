import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelManifest } from '../../src/registry';
import {
  CLASSIFIER_META,
  fixedBatchClassifier,
  irisLikeClassifier,
  linearRegressor,
  mnistSizedClassifier,
  twoInputModel,
  typedModel,
} from '../fixtures/models';
import {
  classifierVariant,
  ensureBuilt,
  eventually,
  HttpResult,
  metricValue,
  randomRows,
  ReferenceModel,
  registerModel,
  registerOk,
  runCli,
  scrapeMetrics,
  sha256,
  sleep,
  slowIdentityModel,
  startTestServer,
  TestServer,
  UUID,
  waitChampionReady,
} from './helpers';

interface V2Output {
  name: string;
  shape: number[];
  datatype: string;
  data: Array<number | boolean | string>;
}

interface V2Response {
  model_name: string;
  model_version: string;
  id: string;
  parameters: { prediction_ids: string[] };
  outputs: V2Output[];
}

interface V1Prediction {
  label?: string;
  probabilities?: number[];
  value?: number | number[];
}

interface V1Response {
  model: string;
  version: number;
  request_id: string;
  prediction_ids: string[];
  predictions: V1Prediction[];
}

interface ModelSummary {
  name: string;
  aliases: Record<string, number>;
  versions: ModelManifest[];
}

const FEATURES = CLASSIFIER_META.feature_names;
const CLASSES = CLASSIFIER_META.class_names;

function output(res: HttpResult, name: string): V2Output {
  const found = (res.body as V2Response).outputs.find((o) => o.name === name);
  if (!found) throw new Error(`no output '${name}' in ${res.text}`);
  return found;
}

function expectClose(actual: number[], expected: number[], digits = 5): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((v, i) => expect(v).toBeCloseTo(expected[i], digits));
}

function tensor(name: string, rows: number[][], datatype = 'FP32') {
  return { name, shape: [rows.length, rows[0].length], datatype, data: rows.flat() };
}

describe('Argus over real HTTP', () => {
  let server: TestServer;
  const bytes = {
    classifier: [irisLikeClassifier(), classifierVariant(2), classifierVariant(3)],
    regressor: linearRegressor(),
    fixed: fixedBatchClassifier(),
    two: twoInputModel(),
    typed: typedModel(),
    mnist: mnistSizedClassifier(),
    slow: slowIdentityModel(),
    promo: [classifierVariant(101), classifierVariant(202)],
  };
  const refs: Record<string, ReferenceModel> = {};
  const rows = randomRows(5, 4, 42);

  beforeAll(async () => {
    server = await startTestServer();
    // Version 1 as JSON with base64 bytes, versions 2 and 3 as raw ONNX bytes.
    await registerOk(server, 'classifier', bytes.classifier[0], {
      metadata: CLASSIFIER_META,
      alias: 'champion',
    });
    await registerOk(server, 'classifier', bytes.classifier[1], {
      metadata: { ...CLASSIFIER_META, description: 'second' },
      octetStream: true,
    });
    await registerOk(server, 'classifier', bytes.classifier[2], { octetStream: true });
    await registerOk(server, 'regressor', bytes.regressor, { alias: 'champion' });
    await registerOk(server, 'fixed', bytes.fixed, { alias: 'champion', octetStream: true });
    await registerOk(server, 'two_inputs', bytes.two, { alias: 'champion' });
    await registerOk(server, 'typed', bytes.typed, { alias: 'champion' });
    await registerOk(server, 'mnist', bytes.mnist, {
      alias: 'champion',
      octetStream: true,
      metadata: { batching: { max_batch_size: 64, max_queue_delay_us: 2000 } },
    });
    await registerOk(server, 'slow', bytes.slow, {
      alias: 'champion',
      octetStream: true,
      metadata: { batching: { max_queue_rows: 4, max_batch_size: 1, max_queue_delay_us: 0 } },
    });
    await registerOk(server, 'promo', bytes.promo[0], { metadata: CLASSIFIER_META });
    await registerOk(server, 'promo', bytes.promo[1], { metadata: CLASSIFIER_META });
    expect(
      (await server.request('PUT', '/v1/models/promo/aliases/champion', { json: { version: 1 } }))
        .status,
    ).toBe(200);
    for (const name of [
      'classifier',
      'regressor',
      'fixed',
      'two_inputs',
      'typed',
      'mnist',
      'slow',
      'promo',
    ]) {
      await waitChampionReady(server, name);
    }
    refs.c1 = await ReferenceModel.load(bytes.classifier[0]);
    refs.c2 = await ReferenceModel.load(bytes.classifier[1]);
    refs.c3 = await ReferenceModel.load(bytes.classifier[2]);
    refs.mnist = await ReferenceModel.load(bytes.mnist);
    refs.fixed = await ReferenceModel.load(bytes.fixed);
    refs.p1 = await ReferenceModel.load(bytes.promo[0]);
    refs.p2 = await ReferenceModel.load(bytes.promo[1]);
  }, 90_000);

  afterAll(async () => {
    for (const ref of Object.values(refs)) await ref.release();
    await server?.close();
  });

  describe('registry', () => {
    it('numbers versions 1, 2, 3 and lists every model with its aliases', async () => {
      const list = await server.request('GET', '/v1/models');
      expect(list.status).toBe(200);
      const models = (list.body as { models: ModelSummary[] }).models;
      expect(models.map((m) => m.name)).toEqual([
        'classifier',
        'fixed',
        'mnist',
        'promo',
        'regressor',
        'slow',
        'two_inputs',
        'typed',
      ]);
      const classifier = models.find((m) => m.name === 'classifier')!;
      expect(classifier.versions.map((v) => v.version)).toEqual([1, 2, 3]);
      expect(classifier.aliases).toEqual({ champion: 1 });

      const one = await server.request('GET', '/v1/models/classifier');
      expect(one.status).toBe(200);
      expect((one.body as ModelSummary).versions.map((v) => v.version)).toEqual([1, 2, 3]);
    });

    it('answers a registration with the name, the version and the manifest', async () => {
      const res = await registerModel(server, 'scratch', bytes.regressor, {
        metadata: { description: 'scratch model', metadata: { owner: 'e2e' } },
      });
      expect(res.status).toBe(201);
      const body = res.body as { name: string; version: number; manifest: ModelManifest };
      expect(body.name).toBe('scratch');
      expect(body.version).toBe(1);
      expect(body.manifest.description).toBe('scratch model');
      expect(body.manifest.metadata).toEqual({ owner: 'e2e' });
      const again = await registerModel(server, 'scratch', bytes.regressor, { octetStream: true });
      expect((again.body as { version: number }).version).toBe(2);
      // Not the champion: deletable.
      expect((await server.request('DELETE', '/v1/models/scratch/versions/2')).status).toBe(200);
      expect((await server.request('DELETE', '/v1/models/scratch/versions/1')).status).toBe(200);
      expect((await server.request('GET', '/v1/models/scratch')).status).toBe(404);
    });

    it('writes a manifest with checksum, signature, task, feature and class names', async () => {
      const res = await server.request('GET', '/v1/models/classifier/versions/1');
      expect(res.status).toBe(200);
      const m = res.body as ModelManifest;
      expect(m).toMatchObject({
        name: 'classifier',
        version: 1,
        sha256: sha256(bytes.classifier[0]),
        size_bytes: bytes.classifier[0].byteLength,
        task: 'classification',
        feature_names: FEATURES,
        class_names: CLASSES,
        primary_output: 'probabilities',
        label_output: 'label',
        batching: null,
        lineage: {
          parent_version: null,
          training_job_id: null,
          dataset: null,
          metrics: null,
          gate: null,
        },
      });
      expect(m.inputs).toEqual([{ name: 'input', datatype: 'FP32', shape: [-1, 4] }]);
      expect(m.outputs).toEqual([
        { name: 'probabilities', datatype: 'FP32', shape: [-1, 3] },
        { name: 'label', datatype: 'INT64', shape: [-1] },
      ]);
      expect(Number.isNaN(Date.parse(m.created_at))).toBe(false);

      // The same manifest is on disk next to the model, whose bytes match the checksum.
      const dir = join(server.home, 'models', 'classifier', '1');
      expect(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'))).toEqual(m);
      expect(sha256(readFileSync(join(dir, 'model.onnx')))).toBe(m.sha256);

      const v2 = (await server.request('GET', '/v1/models/classifier/versions/2'))
        .body as ModelManifest;
      expect(v2.sha256).toBe(sha256(bytes.classifier[1]));
      expect(v2.description).toBe('second');

      // Without metadata a classifier gets index class names and no feature names.
      const v3 = (await server.request('GET', '/v1/models/classifier/versions/3'))
        .body as ModelManifest;
      expect(v3).toMatchObject({
        task: 'classification',
        feature_names: null,
        class_names: ['0', '1', '2'],
      });

      const reg = (await server.request('GET', '/v1/models/regressor/versions/1'))
        .body as ModelManifest;
      expect(reg).toMatchObject({ task: 'regression', primary_output: 'value', class_names: null });
      expect(reg.inputs).toEqual([{ name: 'input', datatype: 'FP32', shape: [-1, 3] }]);

      const slow = (await server.request('GET', '/v1/models/slow/versions/1'))
        .body as ModelManifest;
      expect(slow.batching).toEqual({
        max_queue_rows: 4,
        max_batch_size: 1,
        max_queue_delay_us: 0,
      });
    });
  });

  describe('KServe V2', () => {
    it('serves server metadata, liveness and readiness', async () => {
      const meta = await server.request('GET', '/v2');
      expect(meta.status).toBe(200);
      expect(meta.body).toMatchObject({ name: 'argus', version: expect.any(String) as string });
      expect(Array.isArray((meta.body as { extensions: unknown }).extensions)).toBe(true);

      const live = await server.request('GET', '/v2/health/live');
      expect(live.status).toBe(200);
      expect(live.body).toEqual({ live: true });

      const ready = await server.request('GET', '/v2/health/ready');
      expect(ready.status).toBe(200);
      expect(ready.body).toEqual({ ready: true });
    });

    it('describes models with -1 for dynamic dimensions, per champion and per version', async () => {
      const res = await server.request('GET', '/v2/models/classifier');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        name: 'classifier',
        versions: ['1', '2', '3'],
        platform: 'onnxruntime_onnx',
        inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
        outputs: [
          { name: 'probabilities', datatype: 'FP32', shape: [-1, 3] },
          { name: 'label', datatype: 'INT64', shape: [-1] },
        ],
      });
      const v2 = await server.request('GET', '/v2/models/classifier/versions/2');
      expect(v2.status).toBe(200);
      expect((v2.body as { inputs: unknown }).inputs).toEqual([
        { name: 'input', datatype: 'FP32', shape: [-1, 4] },
      ]);

      const fixed = await server.request('GET', '/v2/models/fixed');
      expect((fixed.body as { inputs: unknown }).inputs).toEqual([
        { name: 'input', datatype: 'FP32', shape: [1, 4] },
      ]);

      const typed = await server.request('GET', '/v2/models/typed');
      expect((typed.body as { inputs: unknown }).inputs).toEqual([
        { name: 'f64', datatype: 'FP64', shape: [-1, 2] },
        { name: 'i32', datatype: 'INT32', shape: [-1, 2] },
        { name: 'i64', datatype: 'INT64', shape: [-1, 2] },
        { name: 'flag', datatype: 'BOOL', shape: [-1, 2] },
      ]);
    });

    it('answers model and version readiness', async () => {
      const model = await server.request('GET', '/v2/models/classifier/ready');
      expect(model.status).toBe(200);
      expect(model.body).toEqual({ name: 'classifier', ready: true });
      const version = await server.request('GET', '/v2/models/classifier/versions/1/ready');
      expect(version.status).toBe(200);
      expect(version.body).toEqual({ name: 'classifier', version: '1', ready: true });
      expect((await server.request('GET', '/v2/models/nope/ready')).status).toBe(404);
      expect((await server.request('GET', '/v2/models/classifier/versions/9/ready')).status).toBe(
        404,
      );
    });

    it('infers on the champion with flat data, echoes the id and gives one UUID per row', async () => {
      const res = await server.request('POST', '/v2/models/classifier/infer', {
        json: { id: 'req-1', inputs: [tensor('input', rows)] },
      });
      expect(res.status).toBe(200);
      const body = res.body as V2Response;
      expect(body.model_name).toBe('classifier');
      expect(body.model_version).toBe('1');
      expect(body.id).toBe('req-1');
      expect(body.parameters.prediction_ids).toHaveLength(rows.length);
      for (const id of body.parameters.prediction_ids) expect(id).toMatch(UUID);
      expect(new Set(body.parameters.prediction_ids).size).toBe(rows.length);

      const expected = await refs.c1.runRows(rows);
      const probs = output(res, 'probabilities');
      expect(probs).toMatchObject({ datatype: 'FP32', shape: [rows.length, 3] });
      expectClose(probs.data as number[], expected.probabilities.flat());
      const label = output(res, 'label');
      expect(label).toMatchObject({ datatype: 'INT64', shape: [rows.length] });
      expect(label.data).toEqual(expected.label.flat());
    });

    it('accepts nested data equal to the flat form', async () => {
      const flat = await server.request('POST', '/v2/models/classifier/infer', {
        json: { inputs: [tensor('input', rows)] },
      });
      const nested = await server.request('POST', '/v2/models/classifier/infer', {
        json: {
          inputs: [{ name: 'input', shape: [rows.length, 4], datatype: 'FP32', data: rows }],
        },
      });
      expect(nested.status).toBe(200);
      expect(output(nested, 'probabilities').data).toEqual(output(flat, 'probabilities').data);
      expect(output(nested, 'label').data).toEqual(output(flat, 'label').data);
    });

    it('uses the request id as the response id when none is given', async () => {
      const sent = await server.request('POST', '/v2/models/classifier/infer', {
        json: { inputs: [tensor('input', rows.slice(0, 1))] },
        headers: { 'x-request-id': 'client-chosen-id-7' },
      });
      expect(sent.headers.get('x-request-id')).toBe('client-chosen-id-7');
      expect((sent.body as V2Response).id).toBe('client-chosen-id-7');

      const generated = await server.request('POST', '/v2/models/classifier/infer', {
        json: { inputs: [tensor('input', rows.slice(0, 1))] },
      });
      const header = generated.headers.get('x-request-id');
      expect(header).toMatch(UUID);
      expect((generated.body as V2Response).id).toBe(header);

      // A malformed request id is replaced, not echoed.
      const hostile = await server.request('POST', '/v2/models/classifier/infer', {
        json: { inputs: [tensor('input', rows.slice(0, 1))] },
        headers: { 'x-request-id': '<script>alert(1)</script>' },
      });
      expect(hostile.status).toBe(200);
      expect(hostile.headers.get('x-request-id')).toMatch(UUID);
    });

    it('returns only the requested outputs', async () => {
      const res = await server.request('POST', '/v2/models/classifier/infer', {
        json: { inputs: [tensor('input', rows)], outputs: [{ name: 'label' }] },
      });
      expect(res.status).toBe(200);
      const outputs = (res.body as V2Response).outputs;
      expect(outputs.map((o) => o.name)).toEqual(['label']);
      expect(outputs[0].data).toEqual((await refs.c1.runRows(rows)).label.flat());
    });

    it('pins a version given in the URL', async () => {
      for (const [version, ref] of [
        ['2', refs.c2],
        ['3', refs.c3],
        ['1', refs.c1],
      ] as const) {
        const res = await server.request(
          'POST',
          `/v2/models/classifier/versions/${version}/infer`,
          {
            json: { inputs: [tensor('input', rows)] },
          },
        );
        expect(res.status).toBe(200);
        expect((res.body as V2Response).model_version).toBe(version);
        expectClose(
          output(res, 'probabilities').data as number[],
          (await ref.runRows(rows)).probabilities.flat(),
        );
      }
      // The versions really are different models.
      const one = (await refs.c1.runRows(rows)).probabilities.flat();
      const two = (await refs.c2.runRows(rows)).probabilities.flat();
      expect(one).not.toEqual(two);
    });

    it('serves a model with two inputs and honours the output selection', async () => {
      const a = [
        [1, 2, 3],
        [4, 5, 6],
      ];
      const b = [
        [10, 20, 30],
        [0.5, -1, 2],
      ];
      const res = await server.request('POST', '/v2/models/two_inputs/infer', {
        json: { inputs: [tensor('b', b), tensor('a', a)] },
      });
      expect(res.status).toBe(200);
      expect(output(res, 'sum')).toEqual({
        name: 'sum',
        shape: [2, 3],
        datatype: 'FP32',
        data: [11, 22, 33, 4.5, 4, 8],
      });
      expect(output(res, 'product').data).toEqual([10, 40, 90, 2, -5, 12]);

      const only = await server.request('POST', '/v2/models/two_inputs/infer', {
        json: { inputs: [tensor('a', a), tensor('b', b)], outputs: [{ name: 'product' }] },
      });
      expect((only.body as V2Response).outputs.map((o) => o.name)).toEqual(['product']);
    });

    it('round-trips FP64, INT32, INT64 and BOOL tensors', async () => {
      const f64 = [
        [0.1, -2.5e100],
        [Math.PI, 1e-300],
      ];
      const i32 = [
        [2147483647, -2147483648],
        [0, -7],
      ];
      const i64 = [
        [9007199254740991, -9007199254740991],
        [42, -1],
      ];
      const flag = [
        [true, false],
        [false, false],
      ];
      const res = await server.request('POST', '/v2/models/typed/infer', {
        json: {
          inputs: [
            { name: 'f64', shape: [2, 2], datatype: 'FP64', data: f64 },
            { name: 'i32', shape: [2, 2], datatype: 'INT32', data: i32.flat() },
            { name: 'i64', shape: [2, 2], datatype: 'INT64', data: i64 },
            { name: 'flag', shape: [2, 2], datatype: 'BOOL', data: flag.flat() },
          ],
        },
      });
      expect(res.status).toBe(200);
      expect(output(res, 'f64_out')).toEqual({
        name: 'f64_out',
        shape: [2, 2],
        datatype: 'FP64',
        data: f64.flat(),
      });
      expect(output(res, 'i32_out')).toMatchObject({ datatype: 'INT32', data: i32.flat() });
      expect(output(res, 'i64_out')).toMatchObject({ datatype: 'INT64', data: i64.flat() });
      expect(output(res, 'flag_out')).toMatchObject({
        datatype: 'BOOL',
        data: flag.flat().map((v) => !v),
      });
    });

    it('takes and returns binary tensor data (Inference-Header-Content-Length), as Triton clients send it', async () => {
      const f64 = new Float64Array([0.1, -2.5e300, 3, 5e-324]);
      const i32 = new Int32Array([2147483647, -2147483648, 0, 7]);
      const i64 = new BigInt64Array([9223372036854775807n, -9223372036854775808n, 42n, -1n]);
      const flag = new Uint8Array([1, 0, 0, 1]);
      const sections = [f64, i32, i64, flag].map((a) =>
        Buffer.from(a.buffer, a.byteOffset, a.byteLength),
      );
      const bin = (name: string, datatype: string, bytes: Buffer) => ({
        name,
        shape: [2, 2],
        datatype,
        parameters: { binary_data_size: bytes.length },
      });
      const header = Buffer.from(
        JSON.stringify({
          id: 'bin-1',
          inputs: [
            bin('f64', 'FP64', sections[0]),
            bin('i32', 'INT32', sections[1]),
            bin('i64', 'INT64', sections[2]),
            bin('flag', 'BOOL', sections[3]),
          ],
          // i32_out as JSON, the rest in the binary section.
          outputs: [
            { name: 'f64_out', parameters: { binary_data: true } },
            { name: 'i32_out', parameters: { binary_data: false } },
            { name: 'i64_out' },
            { name: 'flag_out' },
          ],
          parameters: { binary_data_output: true },
        }),
      );
      const res = await fetch(`${server.url}/v2/models/typed/infer`, {
        method: 'POST',
        headers: {
          'content-type': 'application/octet-stream',
          'inference-header-content-length': String(header.length),
        },
        body: Buffer.concat([header, ...sections]),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/octet-stream');
      const body = Buffer.from(await res.arrayBuffer());
      const jsonLength = Number(res.headers.get('inference-header-content-length'));
      const answer = JSON.parse(body.toString('utf8', 0, jsonLength)) as {
        id: string;
        parameters: { prediction_ids: string[] };
        outputs: Array<V2Output & { parameters?: { binary_data_size: number } }>;
      };
      expect(answer.id).toBe('bin-1');
      expect(answer.parameters.prediction_ids).toHaveLength(2);
      expect(answer.outputs.map((o) => o.name)).toEqual([
        'f64_out',
        'i32_out',
        'i64_out',
        'flag_out',
      ]);
      expect(answer.outputs[1]).toEqual({
        name: 'i32_out',
        shape: [2, 2],
        datatype: 'INT32',
        data: Array.from(i32),
      });
      // The binary outputs follow the header in the order they are listed.
      let at = jsonLength;
      const next = (o: (typeof answer.outputs)[number]) => {
        expect(o.data).toBeUndefined();
        const size = o.parameters!.binary_data_size;
        const bytes = Uint8Array.prototype.slice.call(body, at, at + size);
        at += size;
        return bytes.buffer;
      };
      expect(Array.from(new Float64Array(next(answer.outputs[0])))).toEqual(Array.from(f64));
      expect(Array.from(new BigInt64Array(next(answer.outputs[2])))).toEqual(Array.from(i64));
      expect(Array.from(new Uint8Array(next(answer.outputs[3])))).toEqual([0, 1, 1, 0]);
      expect(at).toBe(body.length);
    });

    it('answers binary MNIST-sized input with the same predictions as JSON', async () => {
      const rows = randomRows(3, 4, 7);
      const floats = Float32Array.from(rows.flat());
      const bytes = Buffer.from(floats.buffer);
      const header = Buffer.from(
        JSON.stringify({
          inputs: [
            {
              name: 'input',
              shape: [3, 4],
              datatype: 'FP32',
              parameters: { binary_data_size: bytes.length },
            },
          ],
        }),
      );
      const binary = await server.request('POST', '/v2/models/classifier/infer', {
        body: Buffer.concat([header, bytes]),
        headers: {
          'content-type': 'application/octet-stream',
          'inference-header-content-length': String(header.length),
        },
      });
      expect(binary.status).toBe(200);
      // No binary output asked for: a plain JSON response.
      expect(binary.headers.get('content-type')).toMatch(/^application\/json/);
      const json = await server.request('POST', '/v2/models/classifier/infer', {
        json: {
          inputs: [{ name: 'input', shape: [3, 4], datatype: 'FP32', data: Array.from(floats) }],
        },
      });
      expect(output(binary, 'probabilities').data).toEqual(output(json, 'probabilities').data);
      expect(output(binary, 'label').data).toEqual(output(json, 'label').data);
    });
  });

  describe('v1 predict', () => {
    it('returns class-name labels and probabilities for array instances', async () => {
      const res = await server.request('POST', '/v1/models/classifier/predict', {
        json: { instances: rows },
        headers: { 'x-request-id': 'v1-request-1' },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-request-id')).toBe('v1-request-1');
      const body = res.body as V1Response;
      expect(body).toMatchObject({ model: 'classifier', version: 1, request_id: 'v1-request-1' });
      expect(body.prediction_ids).toHaveLength(rows.length);
      for (const id of body.prediction_ids) expect(id).toMatch(UUID);
      expect(new Set(body.prediction_ids).size).toBe(rows.length);
      const expected = await refs.c1.runRows(rows);
      body.predictions.forEach((p, r) => {
        expect(Object.keys(p).sort()).toEqual(['label', 'probabilities']);
        expect(p.label).toBe(CLASSES[expected.label[r][0]]);
        expectClose(p.probabilities!, expected.probabilities[r]);
      });
    });

    it('accepts named-feature objects in any key order', async () => {
      const objects = rows.map((row) => ({
        petal_width: row[3],
        sepal_length: row[0],
        petal_length: row[2],
        sepal_width: row[1],
      }));
      const named = await server.request('POST', '/v1/models/classifier/predict', {
        json: { instances: objects },
      });
      const arrays = await server.request('POST', '/v1/models/classifier/predict', {
        json: { instances: rows },
      });
      expect(named.status).toBe(200);
      expect((named.body as V1Response).predictions).toEqual(
        (arrays.body as V1Response).predictions,
      );
      // A generated request id is a UUID, echoed in the header and the body.
      const id = named.headers.get('x-request-id');
      expect(id).toMatch(UUID);
      expect((named.body as V1Response).request_id).toBe(id);
    });

    it('returns values for a regressor', async () => {
      const res = await server.request('POST', '/v1/models/regressor/predict', {
        json: {
          instances: [
            [1, 1, 1],
            [0, 0, 0],
            [2, -1, 0.5],
          ],
        },
      });
      expect(res.status).toBe(200);
      const body = res.body as V1Response;
      expect(body.predictions.map((p) => Object.keys(p))).toEqual([
        ['value'],
        ['value'],
        ['value'],
      ]);
      expectClose(
        body.predictions.map((p) => p.value as number),
        [6.5, 0.5, 2 - 2 + 1.5 + 0.5],
      );
      expect(body.prediction_ids).toHaveLength(3);
    });

    it('sends requests without a version to the champion and pins a version in the URL', async () => {
      const champion = await server.request('POST', '/v1/models/classifier/predict', {
        json: { instances: rows },
      });
      expect((champion.body as V1Response).version).toBe(1);
      const pinned = await server.request('POST', '/v1/models/classifier/versions/3/predict', {
        json: { instances: rows },
      });
      expect(pinned.status).toBe(200);
      const body = pinned.body as V1Response;
      expect(body.version).toBe(3);
      const expected = await refs.c3.runRows(rows);
      body.predictions.forEach((p, r) => {
        // Version 3 was registered without class names: labels are class indices.
        expect(p.label).toBe(String(expected.label[r][0]));
        expectClose(p.probabilities!, expected.probabilities[r]);
      });
    });

    it('serves a fixed-batch model one row at a time', async () => {
      const res = await server.request('POST', '/v1/models/fixed/predict', {
        json: { instances: [rows[0]] },
      });
      expect(res.status).toBe(200);
      const expected = await refs.fixed.runRows([rows[0]]);
      expectClose(
        (res.body as V1Response).predictions[0].probabilities!,
        expected.probabilities[0],
      );
    });
  });

  describe('documentation and metrics', () => {
    it('serves the Swagger UI and an OpenAPI document whose every path is a real route', async () => {
      const page = await server.request('GET', '/docs');
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/text\/html/);
      expect(page.text).toContain('swagger-ui');
      const asset = await server.request('GET', '/docs/assets/swagger-ui-bundle.js');
      expect(asset.status).toBe(200);

      const doc = await server.request('GET', '/docs/openapi.json');
      expect(doc.status).toBe(200);
      const openapi = doc.body as {
        openapi: string;
        paths: Record<string, Record<string, unknown>>;
      };
      expect(openapi.openapi).toMatch(/^3\./);
      const fastify = server.running.app.getHttpAdapter().getInstance();
      const paths = Object.entries(openapi.paths);
      expect(paths.length).toBeGreaterThanOrEqual(15);
      for (const [path, operations] of paths) {
        const route = path.replace(/\{(\w+)\}/g, ':$1');
        for (const method of Object.keys(operations)) {
          expect({
            method,
            path,
            exists: fastify.hasRoute({
              method: method.toUpperCase(),
              url: route,
            }),
          }).toEqual({ method, path, exists: true });
        }
        const concrete = path
          .replace('{model}', 'classifier')
          .replace('{version}', '1')
          .replace('{alias}', 'champion');
        // GET routes whose parameters we can fill answer for real.
        if ('get' in operations && !concrete.includes('{')) {
          const res = await server.request('GET', concrete);
          expect({ path: concrete, status: res.status }).toEqual({ path: concrete, status: 200 });
        }
      }
    });

    it('exposes the argus_ series on /metrics', async () => {
      await server.request('POST', '/v1/models/classifier/predict', { json: { instances: rows } });
      const text = await scrapeMetrics(server);
      for (const series of [
        'argus_requests_total',
        'argus_request_duration_seconds_bucket',
        'argus_inference_duration_seconds_bucket',
        'argus_batch_size_rows_bucket',
        'argus_batch_requests_bucket',
        'argus_queue_wait_seconds_bucket',
        'argus_predicted_rows_total',
        'argus_model_info',
        'argus_model_load_duration_seconds_bucket',
      ]) {
        expect(text).toContain(series);
      }
      expect(
        metricValue(text, 'argus_model_info', {
          model: 'classifier',
          version: '1',
          alias: 'champion',
        }),
      ).toBe(1);
      expect(
        metricValue(text, 'argus_requests_total', {
          model: 'classifier',
          version: '1',
          route: 'champion',
          protocol: 'v1',
          status: '200',
        }),
      ).toBeGreaterThan(0);
      expect(
        metricValue(text, 'argus_predicted_rows_total', {
          model: 'classifier',
          version: '3',
          route: 'pinned',
        }),
      ).toBeGreaterThanOrEqual(rows.length);
    });
  });

  describe('dynamic batching', () => {
    function batchStats(text: string, model: string) {
      const labels = { model, version: '1' };
      return {
        rowsSum: metricValue(text, 'argus_batch_size_rows_sum', labels),
        batches: metricValue(text, 'argus_batch_size_rows_count', labels),
        requestsSum: metricValue(text, 'argus_batch_requests_sum', labels),
      };
    }

    it('merges concurrent single-row requests into batches and answers each correctly', async () => {
      const n = 64;
      const inputs = randomRows(n, 784, 99);
      const before = batchStats(await scrapeMetrics(server), 'mnist');
      const answers = await Promise.all(
        inputs.map((row) =>
          server.request('POST', '/v2/models/mnist/infer', {
            json: { inputs: [{ name: 'input', shape: [1, 784], datatype: 'FP32', data: row }] },
          }),
        ),
      );
      const after = batchStats(await scrapeMetrics(server), 'mnist');

      expect(answers.map((a) => a.status)).toEqual(Array<number>(n).fill(200));
      const expected = await refs.mnist.runRows(inputs);
      answers.forEach((res, r) => {
        expect(output(res, 'label').data).toEqual(expected.label[r]);
        expectClose(output(res, 'probabilities').data as number[], expected.probabilities[r]);
      });

      const rowsRun = after.rowsSum - before.rowsSum;
      const batches = after.batches - before.batches;
      expect(rowsRun).toBe(n);
      expect(after.requestsSum - before.requestsSum).toBe(n);
      expect(batches).toBeLessThan(n);
      expect(rowsRun / batches).toBeGreaterThan(1);
    });

    it('runs a fixed-batch model with batching off', async () => {
      const n = 16;
      const inputs = randomRows(n, 4, 5);
      const before = batchStats(await scrapeMetrics(server), 'fixed');
      const answers = await Promise.all(
        inputs.map((row) =>
          server.request('POST', '/v2/models/fixed/infer', {
            json: { inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: row }] },
          }),
        ),
      );
      const after = batchStats(await scrapeMetrics(server), 'fixed');
      expect(answers.map((a) => a.status)).toEqual(Array<number>(n).fill(200));
      for (let r = 0; r < n; r++) {
        const expected = await refs.fixed.runRows([inputs[r]]);
        expectClose(
          output(answers[r], 'probabilities').data as number[],
          expected.probabilities[0],
        );
      }
      // Every request ran alone: one row, one request per execution.
      expect(after.batches - before.batches).toBe(n);
      expect(after.rowsSum - before.rowsSum).toBe(n);
      expect(after.requestsSum - before.requestsSum).toBe(n);
    });
  });

  describe('back-pressure', () => {
    it('answers 503 with Retry-After when the queue is full, never hangs, and recovers', async () => {
      const n = 48;
      const inputs = randomRows(n, 256, 3);
      const answers = await Promise.all(
        inputs.map((row) =>
          server.request('POST', '/v2/models/slow/infer', {
            json: { inputs: [{ name: 'input', shape: [1, 256], datatype: 'FP32', data: row }] },
            timeoutMs: 30_000,
          }),
        ),
      );
      const statuses = answers.map((a) => a.status);
      const rejected = answers.filter((a) => a.status === 503);
      const served = answers.filter((a) => a.status === 200);
      expect(rejected.length + served.length).toBe(n);
      expect(rejected.length).toBeGreaterThan(0);
      expect(served.length).toBeGreaterThan(0);
      for (const res of rejected) {
        expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
        expect(res.headers.get('content-type')).toMatch(/application\/json/);
        expect(res.body).toEqual({ error: expect.stringMatching(/queue is full/) as string });
      }
      statuses.forEach((status, r) => {
        if (status !== 200) return;
        // The slow model is an identity: the answer is the row itself (FP32-rounded).
        expectClose(output(answers[r], 'value').data as number[], inputs[r], 4);
      });

      const after = await server.request('POST', '/v2/models/slow/infer', {
        json: { inputs: [{ name: 'input', shape: [1, 256], datatype: 'FP32', data: inputs[0] }] },
      });
      expect(after.status).toBe(200);
      const text = await scrapeMetrics(server);
      expect(
        metricValue(text, 'argus_requests_total', {
          model: 'slow',
          version: '1',
          route: 'champion',
          protocol: 'v2',
          status: '503',
        }),
      ).toBe(rejected.length);
    });
  });

  describe('promotion', () => {
    const row = [5.1, 3.5, 1.4, 0.2];
    let expected: Record<string, number[]>;

    beforeAll(async () => {
      expected = {
        '1': (await refs.p1.runRows([row])).probabilities[0],
        '2': (await refs.p2.runRows([row])).probabilities[0],
      };
      expect(expected['1']).not.toEqual(expected['2']);
    });

    async function predictPromo(): Promise<{ status: number; version: number; probs: number[] }> {
      const res = await server.request('POST', '/v1/models/promo/predict', {
        json: { instances: [row] },
      });
      const body = res.body as V1Response;
      return {
        status: res.status,
        version: body.version,
        probs: res.status === 200 ? body.predictions[0].probabilities! : [],
      };
    }

    it('switches versions back and forth under load without a failed request', async () => {
      const failures: string[] = [];
      const seen = new Set<number>();
      let answered = 0;
      const end = Date.now() + 1500;
      const worker = async () => {
        while (Date.now() < end) {
          const r = await predictPromo();
          answered++;
          if (r.status !== 200) {
            failures.push(`status ${r.status}`);
            continue;
          }
          seen.add(r.version);
          const want = expected[String(r.version)];
          if (!want || r.probs.some((p, i) => Math.abs(p - want[i]) > 1e-5)) {
            failures.push(`version ${r.version} answered ${JSON.stringify(r.probs)}`);
          }
        }
      };
      const promoter = async () => {
        for (const version of [2, 1, 2, 1, 2]) {
          await sleep(220);
          const res = await server.request('PUT', '/v1/models/promo/aliases/champion', {
            json: { version },
          });
          if (res.status !== 200) failures.push(`promotion to ${version}: ${res.status}`);
        }
      };
      await Promise.all([...Array.from({ length: 8 }, () => worker()), promoter()]);

      expect(failures).toEqual([]);
      expect(answered).toBeGreaterThan(8);
      expect(seen.has(1)).toBe(true);
      // The last promotion (to 2) wins.
      await eventually('version 2 to answer', async () =>
        (await predictPromo()).version === 2 ? true : undefined,
      );
      const settled = await predictPromo();
      expect(settled.version).toBe(2);
      expectClose(settled.probs, expected['2']);
      const model = (await server.request('GET', '/v1/models/promo')).body as ModelSummary;
      expect(model.aliases.champion).toBe(2);
    });

    describe('with the CLI', () => {
      beforeAll(() => ensureBuilt(), 180_000);

      it('picks up a promotion made by the CLI', async () => {
        const cli = await runCli([
          'models',
          'promote',
          '--home',
          server.home,
          '--name',
          'promo',
          '--version',
          '1',
        ]);
        expect(cli.stderr).toBe('');
        expect(cli.code).toBe(0);
        expect(JSON.parse(cli.stdout)).toEqual({ name: 'promo', aliases: { champion: 1 } });
        await eventually('the CLI promotion to be served', async () =>
          (await predictPromo()).version === 1 ? true : undefined,
        );
        const after = await predictPromo();
        expectClose(after.probs, expected['1']);
      });

      it('serves a new model registered by the CLI as champion', async () => {
        const file = join(server.home, 'cli-model.onnx');
        writeFileSync(file, bytes.regressor);
        const cli = await runCli([
          'models',
          'register',
          '--home',
          server.home,
          '--name',
          'from_cli',
          '--file',
          file,
          '--alias',
          'champion',
        ]);
        expect(cli.code).toBe(0);
        expect(JSON.parse(cli.stdout)).toEqual({ name: 'from_cli', version: 1 });
        const res = await eventually('the CLI-registered model to answer', async () => {
          const r = await server.request('POST', '/v1/models/from_cli/predict', {
            json: { instances: [[1, 1, 1]] },
          });
          return r.status === 200 ? r : undefined;
        });
        expect((res.body as V1Response).predictions[0].value).toBeCloseTo(6.5, 5);
      });
    });
  });
});

describe('admin token', () => {
  const token = 'e2e-admin-token-0123456789';
  let server: TestServer;
  const auth = { authorization: `Bearer ${token}` };

  beforeAll(async () => {
    server = await startTestServer({ ARGUS_ADMIN_TOKEN: token, ARGUS_HOST: '127.0.0.1' });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('guards registration, promotion and deletion; reads and predictions need no token', async () => {
    const model = linearRegressor();
    const missing = await registerModel(server, 'reg', model);
    expect(missing.status).toBe(401);
    expect(missing.body).toEqual({
      error: expect.stringMatching(/Authorization: Bearer/) as string,
    });
    const wrong = await registerModel(server, 'reg', model, {
      headers: { authorization: 'Bearer not-the-right-token-at-all' },
    });
    expect(wrong.status).toBe(403);
    expect(wrong.body).toEqual({ error: expect.stringMatching(/not valid/) as string });
    expect((await server.request('GET', '/v1/models')).body).toEqual({ models: [] });

    const first = await registerModel(server, 'reg', model, { headers: auth, alias: 'champion' });
    expect(first.status).toBe(201);
    const second = await registerModel(server, 'reg', model, { headers: auth, octetStream: true });
    expect(second.status).toBe(201);
    expect((second.body as { version: number }).version).toBe(2);

    const promote = (headers: Record<string, string>) =>
      server.request('PUT', '/v1/models/reg/aliases/challenger', { json: { version: 2 }, headers });
    expect((await promote({})).status).toBe(401);
    expect((await promote({ authorization: 'Bearer wrong-wrong-wrong-wrong' })).status).toBe(403);
    expect((await promote({ authorization: 'Basic abc' })).status).toBe(401);
    const promoted = await promote(auth);
    expect(promoted.status).toBe(200);
    expect(promoted.body).toEqual({ name: 'reg', aliases: { champion: 1, challenger: 2 } });

    await waitChampionReady(server, 'reg');
    expect((await server.request('GET', '/v1/models/reg')).status).toBe(200);
    expect((await server.request('GET', '/v2/models/reg')).status).toBe(200);
    const predicted = await server.request('POST', '/v1/models/reg/predict', {
      json: { instances: [[1, 1, 1]] },
    });
    expect(predicted.status).toBe(200);

    const del = (version: number, headers: Record<string, string>) =>
      server.request('DELETE', `/v1/models/reg/versions/${version}`, { headers });
    expect((await del(2, {})).status).toBe(401);
    expect((await del(2, { authorization: 'Bearer wrong-wrong-wrong-wrong' })).status).toBe(403);
    const champion = await del(1, auth);
    expect(champion.status).toBe(409);
    expect(champion.body).toEqual({ error: expect.stringMatching(/champion/) as string });
    const deleted = await del(2, auth);
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({ name: 'reg', deleted: 2 });
    expect((await server.request('GET', '/v1/models/reg/versions/2')).status).toBe(404);
    const summary = (await server.request('GET', '/v1/models/reg')).body as ModelSummary;
    expect(summary.versions.map((v) => v.version)).toEqual([1]);
    // The deleted version's alias went with it.
    expect(summary.aliases).toEqual({ champion: 1 });
  });
});
