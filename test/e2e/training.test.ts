import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { ModelManifest } from '../../src/registry';
import { ANALYTICS_STORE, AnalyticsStore } from '../../src/store';
import type { TrainingJob } from '../../src/training';
import { CLASSIFIER_META, irisLikeClassifier } from '../fixtures/models';
import {
  irisLikeRows,
  isTerminal,
  writeIrisCsv,
  writeWideCsv,
} from '../integration/training/support';
import {
  eventually,
  HttpResult,
  registerOk,
  startTestServer,
  tempHome,
  TestServer,
  UUID,
} from './helpers';

/**
 * Training jobs over HTTP, on a real in-process server: the candidate is trained in a worker,
 * scored against the champion with ONNX Runtime, registered with its lineage and not promoted;
 * one job per model; cancellation; bad specs; records that survive a restart.
 */

const SPEC_OPTIONS = { hidden: [16], epochs: 40, seed: 3, options: { learningRate: 0.01 } };

function body<T>(res: HttpResult): T {
  return res.body as T;
}

async function waitForJob(server: TestServer, id: string): Promise<TrainingJob> {
  return eventually(
    `job ${id} to end`,
    async () => {
      const job = body<TrainingJob>(await server.request('GET', `/v1/jobs/${id}`));
      return isTerminal(job) ? job : undefined;
    },
    60_000,
    100,
  );
}

describe('training jobs over HTTP', () => {
  let server: TestServer;
  let work: string;
  let csv: string;

  beforeAll(async () => {
    server = await startTestServer();
    work = join(server.home, 'data');
    mkdirSync(work);
    csv = writeIrisCsv(join(work, 'iris.csv'), irisLikeRows(450, 11));
    await registerOk(server, 'iris', irisLikeClassifier(), {
      metadata: CLASSIFIER_META,
      alias: 'champion',
    });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('trains a classifier from a CSV and registers it with lineage, gate and reference sample, not promoted', async () => {
    const submitted = await server.request('POST', '/v1/models/iris/train', {
      json: {
        kind: 'mlp',
        ...SPEC_OPTIONS,
        data: { source: 'file', path: csv, target: 'species' },
      },
    });
    expect(submitted.status).toBe(202);
    const queued = body<TrainingJob>(submitted);
    expect(queued.id).toMatch(UUID);
    expect(['queued', 'running']).toContain(queued.status);
    expect(queued.parent_version).toBe(1);

    const job = await waitForJob(server, queued.id);
    expect(job.status).toBe('succeeded');
    expect(job.error).toBeNull();
    expect(job.progress?.maxEpochs).toBe(40);
    expect(job.progress?.epoch).toBeGreaterThanOrEqual(1);
    expect(job.progress?.metricName).toBe('accuracy');
    expect(job.candidate_version).toBe(2);
    expect(job.logs.some((line) => /epoch 1\/40: loss/.test(line))).toBe(true);
    expect(job.logs.some((line) => /registered 'iris' version 2 \(not promoted\)/.test(line))).toBe(
      true,
    );
    // Candidate and champion scored by ONNX Runtime on the same held-out rows.
    const { candidate, champion } = job.metrics ?? {};
    expect(candidate?.task).toBe('classification');
    expect(champion?.rows).toBe(candidate?.rows);
    if (candidate?.task !== 'classification' || champion?.task !== 'classification') {
      throw new Error('expected classification metrics');
    }
    expect(candidate.accuracy).toBeGreaterThan(0.9);
    expect(candidate.latencyPerRowMs).toBeGreaterThan(0);
    expect(champion.latencyPerRowMs).toBeGreaterThan(0);
    expect(job.gate).toMatchObject({
      passed: true,
      metric: 'accuracy',
      champion_version: 1,
      candidate: candidate.accuracy,
      champion: champion.accuracy,
    });

    const model = body<{ aliases: Record<string, number>; versions: ModelManifest[] }>(
      await server.request('GET', '/v1/models/iris'),
    );
    expect(model.aliases.champion).toBe(1);
    expect(model.versions.map((v) => v.version)).toEqual([1, 2]);
    const manifest = body<ModelManifest>(await server.request('GET', '/v1/models/iris/versions/2'));
    expect(manifest.feature_names).toEqual(CLASSIFIER_META.feature_names);
    expect(manifest.class_names).toEqual(CLASSIFIER_META.class_names);
    expect(manifest.lineage.parent_version).toBe(1);
    expect(manifest.lineage.training_job_id).toBe(job.id);
    expect(manifest.lineage.gate).toMatchObject({ passed: true, champion_version: 1 });
    expect(manifest.lineage.metrics).toMatchObject({ candidate: { accuracy: candidate.accuracy } });
    expect(manifest.lineage.dataset).toMatchObject({
      source: { type: 'file', path: csv, format: 'csv' },
      rows: 450,
      time_range: null,
      class_balance: { setosa: 150, versicolor: 150, virginica: 150 },
      features: CLASSIFIER_META.feature_names,
      target: 'species',
      split: { seed: 3, train: 312, validation: 69, test: 69 }, // 23 per class held out twice
    });
    expect((manifest.lineage.dataset as { content_sha256: string }).content_sha256).toMatch(
      /^[0-9a-f]{64}$/,
    );
    expect(manifest.training).toMatchObject({ kind: 'mlp-classifier', options: { maxEpochs: 40 } });

    const versionDir = join(server.home, 'models', 'iris', '2');
    const sample = JSON.parse(
      readFileSync(join(versionDir, 'reference-sample.json'), 'utf8'),
    ) as number[][];
    const labels = JSON.parse(
      readFileSync(join(versionDir, 'reference-labels.json'), 'utf8'),
    ) as string[];
    expect(sample.length).toBe(312); // every training row: fewer than the 500 a sample may hold
    expect(sample.every((row) => row.length === 4)).toBe(true);
    expect(labels.length).toBe(sample.length);
    expect(new Set(labels)).toEqual(new Set(CLASSIFIER_META.class_names));

    // The candidate serves when asked for by version; the champion still answers by default.
    const pinned = await server.request('POST', '/v1/models/iris/versions/2/predict', {
      json: { instances: [[5.0, 3.4, 1.5, 0.2]] },
    });
    expect(pinned.status).toBe(200);
    expect(body<{ predictions: Array<{ label: string }> }>(pinned).predictions[0].label).toBe(
      'setosa',
    );

    const listed = body<{ jobs: Array<Record<string, unknown>> }>(
      await server.request('GET', '/v1/jobs?model=iris'),
    );
    expect(listed.jobs.map((j) => j.id)).toContain(job.id);
    expect(listed.jobs.find((j) => j.id === job.id)).not.toHaveProperty('logs');

    const store = server.running.app.get<AnalyticsStore>(ANALYTICS_STORE);
    const events = await store.listEvents({ model: 'iris' });
    const types = events.filter((e) => e.details.job_id === job.id).map((e) => e.type);
    expect(types.sort()).toEqual(['training.finished', 'training.started']);
  });

  it('retrains with the stored spec when the body is empty, and refuses when there is none', async () => {
    const none = await server.request('POST', '/v1/models/iris/train');
    expect(none.status).toBe(400);
    expect(none.text).toMatch(/no stored training spec/);

    const promoted = await server.request('PUT', '/v1/models/iris/aliases/champion', {
      json: { version: 2 },
    });
    expect(promoted.status).toBe(200);
    const submitted = await server.request('POST', '/v1/models/iris/train', { json: {} });
    expect(submitted.status).toBe(202);
    const job = await waitForJob(server, body<TrainingJob>(submitted).id);
    expect(job.status).toBe('succeeded');
    expect(job.parent_version).toBe(2);
    expect(job.spec).toMatchObject({ kind: 'mlp-classifier', data: { path: csv } });
    // Same data, same seed, same recipe: the retrained candidate is the same model.
    expect(job.dataset?.content_sha256).toBeDefined();
    expect(job.gate).toMatchObject({ passed: true, champion_version: 2, regression: 0 });
  });

  it('runs one job per model: a second is refused with 409; a cancelled job registers nothing', async () => {
    const wide = writeWideCsv(join(work, 'wide.csv'), 3000, 40, 5);
    expect((await server.request('GET', '/v1/models/slow')).status).toBe(404);
    const longSpec = {
      kind: 'mlp',
      hidden: [256],
      epochs: 100000,
      options: { patience: 100000 },
      data: { source: 'file', path: wide, target: 'y' },
    };
    const first = await server.request('POST', '/v1/models/slow/train', { json: longSpec });
    expect(first.status).toBe(202);
    const id = body<TrainingJob>(first).id;

    const second = await server.request('POST', '/v1/models/slow/train', { json: longSpec });
    expect(second.status).toBe(409);
    expect(second.text).toContain(`model 'slow' already has a training job (${id}`);

    await eventually(
      'the first epoch',
      async () => {
        const job = body<TrainingJob>(await server.request('GET', `/v1/jobs/${id}`));
        return job.status === 'running' && (job.progress?.epoch ?? 0) >= 1 ? job : undefined;
      },
      60_000,
    );
    const cancelled = await server.request('POST', `/v1/jobs/${id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(body<TrainingJob>(cancelled)).toMatchObject({
      status: 'cancelled',
      candidate_version: null,
    });
    expect((await server.request('GET', '/v1/models/slow')).status).toBe(404);
    const again = await server.request('POST', `/v1/jobs/${id}/cancel`);
    expect(again.status).toBe(409);
    expect(again.text).toMatch(/already ended \(cancelled\)/);
    expect(existsSync(join(server.home, 'jobs', `${id}.work`))).toBe(false);

    // The model is free again.
    const third = await server.request('POST', '/v1/models/slow/train', { json: longSpec });
    expect(third.status).toBe(202);
    const thirdCancelled = await server.request(
      'POST',
      `/v1/jobs/${body<TrainingJob>(third).id}/cancel`,
    );
    expect(body<TrainingJob>(thirdCancelled).status).toBe('cancelled');
  });

  describe('bad specs get a 4xx naming the problem, and no job', () => {
    const file = (name: string, text: string) => {
      const path = join(work, name);
      writeFileSync(path, text);
      return path;
    };
    const header = [...CLASSIFIER_META.feature_names, 'species'].join(',');
    const cases: Array<[string, () => { path: string; spec: unknown }, number, RegExp]> = [
      [
        'unknown kind',
        () => ({
          path: '/v1/models/iris/train',
          spec: { kind: 'forest', data: { source: 'file', path: 'x.csv', target: 'y' } },
        }),
        400,
        /unknown trainer kind "forest"/,
      ],
      [
        'missing target',
        () => ({
          path: '/v1/models/iris/train',
          spec: { kind: 'mlp', data: { source: 'file', path: 'x.csv' } },
        }),
        400,
        /data\.target is missing/,
      ],
      [
        'no data',
        () => ({ path: '/v1/models/iris/train', spec: { kind: 'mlp' } }),
        400,
        /the spec has no data/,
      ],
      [
        'empty data set',
        () => ({
          path: '/v1/models/iris/train',
          spec: {
            kind: 'mlp',
            data: { source: 'file', path: file('empty.csv', `${header}\n`), target: 'species' },
          },
        }),
        400,
        /the data set is empty/,
      ],
      [
        'a single class',
        () => ({
          path: '/v1/models/iris/train',
          spec: {
            kind: 'mlp',
            data: {
              source: 'file',
              path: file(
                'one.csv',
                `${header}\n5,3,1,0.2,setosa\n5.1,3.1,1.2,0.1,setosa\n4.9,3,1.4,0.2,setosa\n`,
              ),
              target: 'species',
            },
          },
        }),
        400,
        /single class \('setosa', 3 rows\)/,
      ],
      [
        'a bad value, by line',
        () => ({
          path: '/v1/models/iris/train',
          spec: {
            kind: 'mlp',
            data: {
              source: 'file',
              path: file('bad.csv', `${header}\n5,3,1,0.2,setosa\n5.1,wide,1.2,0.1,setosa\n`),
              target: 'species',
            },
          },
        }),
        400,
        /bad\.csv:3: feature 'sepal_width' is "wide", not a finite number/,
      ],
      [
        'a class the model does not have',
        () => ({
          path: '/v1/models/iris/train',
          spec: {
            kind: 'mlp',
            data: {
              source: 'file',
              path: file('rose.csv', `${header}\n5,3,1,0.2,setosa\n5.1,3,1.2,0.1,rose\n`),
              target: 'species',
            },
          },
        }),
        400,
        /rose\.csv:3: class "rose" is not one of the model's classes/,
      ],
      [
        'a missing file',
        () => ({
          path: '/v1/models/iris/train',
          spec: {
            kind: 'mlp',
            data: { source: 'file', path: join(work, 'nope.csv'), target: 'y' },
          },
        }),
        400,
        /does not exist/,
      ],
      [
        'an unknown option',
        () => ({
          path: '/v1/models/iris/train',
          spec: {
            kind: 'mlp',
            options: { hiden_layers: [3] },
            data: { source: 'file', path: 'x.csv', target: 'y' },
          },
        }),
        400,
        /unknown training option 'hiden_layers'/,
      ],
      [
        'unknown model for from-log',
        () => ({
          path: '/v1/models/nosuch/train',
          spec: { kind: 'mlp', data: { source: 'log', since: '1h' } },
        }),
        400,
        /model 'nosuch' not found/,
      ],
      [
        'an unknown data source',
        () => ({ path: '/v1/models/iris/train', spec: { kind: 'mlp', data: { source: 's3' } } }),
        400,
        /unknown data source "s3"/,
      ],
      [
        'a bad duration',
        () => ({
          path: '/v1/models/iris/train',
          spec: { kind: 'mlp', data: { source: 'log', since: 'yesterday' } },
        }),
        400,
        /data\.since must look like 24h/,
      ],
      [
        'a gate metric of the other task',
        () => ({
          path: '/v1/models/iris/train',
          spec: {
            kind: 'mlp',
            gate: { metric: 'rmse' },
            data: { source: 'file', path: 'x.csv', target: 'y' },
          },
        }),
        400,
        /gate metric 'rmse' does not apply to classification/,
      ],
      [
        'an unknown placeholder',
        () => ({
          path: '/v1/models/iris/train',
          spec: {
            kind: 'external',
            command: 'python3 t.py --train {trian} --out {model}',
            data: { source: 'file', path: 'x.csv', target: 'y' },
          },
        }),
        400,
        /unknown placeholder \{trian\}/,
      ],
      [
        'an external command without {model}',
        () => ({
          path: '/v1/models/iris/train',
          spec: {
            kind: 'external',
            command: 'python3 t.py',
            data: { source: 'file', path: 'x.csv', target: 'y' },
          },
        }),
        400,
        /\{model\} placeholder/,
      ],
      [
        'not an object',
        () => ({ path: '/v1/models/iris/train', spec: [1, 2] }),
        400,
        /must be a JSON object/,
      ],
      [
        'a hostile model name',
        () => ({ path: '/v1/models/..%2Fetc/train', spec: { kind: 'mlp' } }),
        400,
        /invalid model name/,
      ],
    ];

    it.each(cases)('%s', async (_name, make, status, message) => {
      const before = body<{ jobs: unknown[] }>(await server.request('GET', '/v1/jobs')).jobs.length;
      const { path, spec } = make();
      const res = await server.request('POST', path, { json: spec });
      expect({ status: res.status, error: body<{ error: string }>(res).error }).toEqual({
        status,
        error: expect.stringMatching(message) as string,
      });
      const after = body<{ jobs: unknown[] }>(await server.request('GET', '/v1/jobs')).jobs.length;
      expect(after).toBe(before);
    });

    it('answers 404 for unknown jobs and 400 for a bad filter', async () => {
      expect((await server.request('GET', '/v1/jobs/not-a-job')).status).toBe(404);
      const missing = await server.request(
        'POST',
        '/v1/jobs/00000000-0000-4000-8000-000000000000/cancel',
      );
      expect(missing.status).toBe(404);
      expect(missing.text).toMatch(/training job '00000000-0000-4000-8000-000000000000' not found/);
      const filter = await server.request('GET', '/v1/jobs?status=bogus');
      expect(filter.status).toBe(400);
      expect(filter.text).toMatch(/unknown job status 'bogus'/);
    });
  });

  it('guards training and cancellation with the admin token', async () => {
    const token = 'training-admin-token-123456';
    const guarded = await startTestServer({ ARGUS_ADMIN_TOKEN: token, ARGUS_HOST: '127.0.0.1' });
    try {
      const spec = { kind: 'mlp', data: { source: 'file', path: csv, target: 'species' } };
      expect((await guarded.request('POST', '/v1/models/iris/train', { json: spec })).status).toBe(
        401,
      );
      const wrong = await guarded.request('POST', '/v1/models/iris/train', {
        json: spec,
        headers: { authorization: 'Bearer not-the-token-at-all' },
      });
      expect(wrong.status).toBe(403);
      const cancel = await guarded.request(
        'POST',
        '/v1/jobs/00000000-0000-4000-8000-000000000000/cancel',
      );
      expect(cancel.status).toBe(401);
      const ok = await guarded.request('POST', '/v1/models/iris/train', {
        json: { ...spec, epochs: 2 },
        headers: { authorization: `Bearer ${token}` },
      });
      expect(ok.status).toBe(202);
      const job = await waitForJob(guarded, body<TrainingJob>(ok).id);
      expect(job.status).toBe('succeeded');
      expect(job.parent_version).toBeNull(); // a new model: nothing to compare with
      expect(job.gate).toMatchObject({ passed: true, champion: null, champion_version: null });
    } finally {
      await guarded.close();
    }
  });
});

describe('job records survive a restart', () => {
  let home: string;

  afterAll(() => {
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('keeps finished jobs, and marks jobs whose process died or stopped as failed "interrupted by a restart"', async () => {
    home = tempHome('argus-training-restart-');
    const data = writeIrisCsv(join(home, 'iris.csv'), irisLikeRows(150, 12));
    const wide = writeWideCsv(join(home, 'wide.csv'), 2000, 30, 6);

    const first = await startTestServer({}, home);
    let finishedId: string;
    let stoppedId: string;
    try {
      const ok = await first.request('POST', '/v1/models/iris/train', {
        json: {
          kind: 'softmax',
          epochs: 5,
          data: { source: 'file', path: data, target: 'species' },
        },
      });
      finishedId = body<TrainingJob>(ok).id;
      expect((await waitForJob(first, finishedId)).status).toBe('succeeded');

      const slow = await first.request('POST', '/v1/models/wide/train', {
        json: {
          kind: 'mlp',
          hidden: [128],
          epochs: 100000,
          options: { patience: 100000 },
          data: { source: 'file', path: wide, target: 'y' },
        },
      });
      stoppedId = body<TrainingJob>(slow).id;
      await eventually(
        'the slow job to run',
        async () => {
          const job = body<TrainingJob>(await first.request('GET', `/v1/jobs/${stoppedId}`));
          return job.status === 'running' ? job : undefined;
        },
        60_000,
      );
    } finally {
      // A graceful shutdown while the slow job trains.
      await first.close();
    }

    // A crash: a record left "running" by a process that no longer exists.
    const exited = spawnSync(process.execPath, ['-e', ''], { stdio: 'ignore' });
    expect(exited.status).toBe(0);
    const crashedId = '11111111-2222-4333-8444-555555555555';
    const crashed: Partial<TrainingJob> = {
      id: crashedId,
      model: 'iris',
      kind: 'mlp-classifier',
      status: 'running',
      progress: {
        epoch: 3,
        maxEpochs: 10,
        loss: 0.5,
        validationMetric: 0.8,
        metricName: 'accuracy',
      },
      metrics: null,
      logs: ['epoch 3/10'],
      logs_dropped: 0,
      error: null,
      candidate_version: null,
      parent_version: null,
      gate: null,
      dataset: null,
      spec: {},
      created_at: new Date().toISOString(),
      started_at: new Date().toISOString(),
      finished_at: null,
      owner: { pid: exited.pid, host: hostname(), instance: 'crashed-process' },
    };
    writeFileSync(join(home, 'jobs', `${crashedId}.json`), JSON.stringify(crashed));
    mkdirSync(join(home, 'jobs', `${crashedId}.work`));

    const second = await startTestServer({}, home);
    try {
      const finished = body<TrainingJob>(await second.request('GET', `/v1/jobs/${finishedId}`));
      expect(finished).toMatchObject({ status: 'succeeded', candidate_version: 1 });

      const stopped = body<TrainingJob>(await second.request('GET', `/v1/jobs/${stoppedId}`));
      expect(stopped.status).toBe('failed');
      expect(stopped.error).toMatch(/^interrupted by a restart: the service shut down/);
      expect((await second.request('GET', '/v1/models/wide')).status).toBe(404);

      const recovered = body<TrainingJob>(await second.request('GET', `/v1/jobs/${crashedId}`));
      expect(recovered.status).toBe('failed');
      expect(recovered.error).toMatch(
        /^interrupted by a restart: the process running it \(pid \d+\)/,
      );
      expect(recovered.finished_at).not.toBeNull();
      expect(existsSync(join(home, 'jobs', `${crashedId}.work`))).toBe(false);
      const onDisk = JSON.parse(
        readFileSync(join(home, 'jobs', `${crashedId}.json`), 'utf8'),
      ) as TrainingJob;
      expect(onDisk.status).toBe('failed');

      // The model is not blocked by the dead job.
      const retry = await second.request('POST', '/v1/models/iris/train', {
        json: {
          kind: 'softmax',
          epochs: 2,
          data: { source: 'file', path: data, target: 'species' },
        },
      });
      expect(retry.status).toBe(202);
      expect((await waitForJob(second, body<TrainingJob>(retry).id)).status).toBe('succeeded');
    } finally {
      await second.close();
    }
  });
});
