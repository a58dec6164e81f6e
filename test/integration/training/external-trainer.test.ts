import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OnnxRuntime } from '../../../src/onnx/onnx-runtime';
import { ModelRegistry } from '../../../src/registry/model-registry';
import {
  splitCommandTemplate,
  substitutePlaceholders,
  TrainingJob,
  TrainingJobService,
} from '../../../src/training';
import { CLASSIFIER_META, irisLikeClassifier } from '../../fixtures/models';
import { eventually } from '../../e2e/helpers';
import { EXTERNAL_TRAINER, irisLikeRows, processGone, writeIrisCsv } from './support';

/**
 * External trainers run as real child processes (a small Node script that writes ONNX with
 * Argus's own graph builder). A good model is scored and registered like a built-in one; a
 * command that fails, hangs, lies or writes the wrong signature leaves a failed job with the
 * reason and nothing registered. The home directory's path holds spaces and shell syntax: the
 * command is spawned without a shell, so paths stay single arguments and nothing is executed.
 */

describe('external trainers', () => {
  let home: string;
  /** Outside `home`, whose name is deliberately hostile. */
  let pidDirectory: string;
  let csv: string;
  let runtime: OnnxRuntime;
  let registry: ModelRegistry;
  let service: TrainingJobService;
  const pidFiles: string[] = [];

  const command = (mode: string, extra = '') =>
    `${process.execPath} ${EXTERNAL_TRAINER} --mode ${mode} --train {train} --schema {schema} --out {model}${extra}`;
  const spec = (mode: string, more: Record<string, unknown> = {}) => ({
    kind: 'external',
    command: command(mode),
    timeout_s: 60,
    data: { source: 'file', path: csv, target: 'species' },
    ...more,
  });
  const versions = async () => (await registry.getModel('iris')).versions.map((v) => v.version);
  const jobFiles = () => readdirSync(join(home, 'jobs')).filter((f) => f.endsWith('.work'));

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), "argus ext; touch pwned $(touch pwned2) 'q' "));
    pidDirectory = mkdtempSync(join(tmpdir(), 'argus-ext-pids-'));
    csv = writeIrisCsv(join(home, 'iris data.csv'), irisLikeRows(300, 31));
    runtime = new OnnxRuntime();
    registry = new ModelRegistry({ home }, runtime);
    await registry.register('iris', irisLikeClassifier(), CLASSIFIER_META, { alias: 'champion' });
    service = new TrainingJobService({ home, registry, runtime });
    await service.start();
  });

  afterAll(async () => {
    await service?.close();
    // Any helper a failed assertion left behind.
    for (const file of pidFiles) {
      if (!existsSync(file)) continue;
      const pid = Number(readFileSync(file, 'utf8'));
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    if (home) rmSync(home, { recursive: true, force: true });
    if (pidDirectory) rmSync(pidDirectory, { recursive: true, force: true });
  });

  it('accepts a loadable model with the champion signature: scored, gated and registered, not promoted', async () => {
    const submitted = await service.submit('iris', spec('ok'));
    const job = await service.wait(submitted.id);
    expect(job.error).toBeNull();
    expect(job.status).toBe('succeeded');
    expect(job.candidate_version).toBe(2);
    expect(job.logs.some((l) => l.includes('[stdout] training on 210 rows, 4 features'))).toBe(
      true,
    );
    expect(job.logs.some((l) => /the command wrote \d+ bytes/.test(l))).toBe(true);
    const candidate = job.metrics?.candidate;
    if (candidate?.task !== 'classification') throw new Error('expected classification metrics');
    expect(candidate.accuracy).toBeGreaterThan(0.9);
    expect(job.metrics?.validation).toBeNull();
    expect(job.gate).toMatchObject({ passed: true, champion_version: 1 });

    const manifest = await registry.getManifest('iris', 2);
    expect(manifest.inputs).toEqual((await registry.getManifest('iris', 1)).inputs);
    expect(manifest.class_names).toEqual(CLASSIFIER_META.class_names);
    expect(manifest.training).toMatchObject({ kind: 'external', command: command('ok') });
    expect(manifest.lineage).toMatchObject({ parent_version: 1, training_job_id: job.id });
    expect(await registry.readArtifact('iris', 2, 'reference-sample.json')).toBeDefined();
    expect(await registry.resolveAlias('iris', 'champion')).toBe(1);
    expect(jobFiles()).toEqual([]);
    // The paths went through as arguments, never through a shell.
    expect(existsSync('pwned')).toBe(false);
    expect(existsSync('pwned2')).toBe(false);
  });

  const failures: Array<[string, () => Record<string, unknown>, RegExp]> = [
    [
      'a failing command',
      () => spec('fail'),
      /^the command exited with code 3: boom: the loss diverged$/,
    ],
    [
      'a command that writes garbage',
      () => spec('garbage'),
      /^the command's output is not a loadable ONNX model: /,
    ],
    [
      'a model with the wrong signature',
      () => spec('wrong-signature'),
      /^the model's signature does not match the champion's: input 'input' FP32 \[-1, 5\] differs from the champion version 1's 'input' FP32 \[-1, 4\]$/,
    ],
    [
      'a command that writes no file',
      () => spec('no-file'),
      /^the command exited 0 but wrote no model file at \{model\}/,
    ],
    [
      'a program that does not exist',
      () => spec('ok', { command: '/nonexistent/argus-trainer --out {model}' }),
      /^cannot start '\/nonexistent\/argus-trainer': spawn \/nonexistent\/argus-trainer ENOENT$/,
    ],
  ];

  it.each(failures)(
    '%s: a failed job with the reason, nothing registered',
    async (_name, make, reason) => {
      const before = await versions();
      const submitted = await service.submit('iris', make());
      const job = await service.wait(submitted.id);
      expect({ status: job.status, error: job.error }).toEqual({
        status: 'failed',
        error: expect.stringMatching(reason) as string,
      });
      expect(job.candidate_version).toBeNull();
      expect(await versions()).toEqual(before);
      expect(jobFiles()).toEqual([]);
    },
  );

  it('kills a hanging command and what it started when the timeout passes', async () => {
    const pidFile = join(pidDirectory, 'helper-timeout.pid');
    pidFiles.push(pidFile);
    const before = await versions();
    const submitted = await service.submit(
      'iris',
      spec('hang', { command: command('hang', ` --pid-file ${pidFile}`), timeout_s: 1.5 }),
    );
    const job = await service.wait(submitted.id);
    expect(job.status).toBe('failed');
    expect(job.error).toBe(
      'the command did not finish within 1.5 s and was killed (with its process group)',
    );
    expect(job.logs.some((l) => /\[stdout\] started helper \d+/.test(l))).toBe(true);
    const helper = Number(readFileSync(pidFile, 'utf8'));
    await eventually('the helper to be gone', async () => (processGone(helper) ? true : undefined));
    expect(await versions()).toEqual(before);
  });

  it('cancels a running command: its process group is killed, the job is cancelled', async () => {
    const pidFile = join(pidDirectory, 'helper-cancel.pid');
    pidFiles.push(pidFile);
    const submitted = await service.submit(
      'iris',
      spec('hang', { command: command('hang', ` --pid-file ${pidFile}`) }),
    );
    await eventually(
      'the helper to start',
      async () => (existsSync(pidFile) ? true : undefined),
      60_000,
    );
    const job: TrainingJob = await service.cancel(submitted.id);
    expect(job.status).toBe('cancelled');
    expect(job.candidate_version).toBeNull();
    const helper = Number(readFileSync(pidFile, 'utf8'));
    await eventually('the helper to be gone', async () => (processGone(helper) ? true : undefined));
  });

  it('trains a regressor for a model without a champion once the task is declared', async () => {
    const lines = ['x1,x2,price'];
    for (let i = 0; i < 200; i++) {
      const x1 = (i % 17) / 4;
      const x2 = (i % 11) / 3;
      lines.push(`${x1},${x2},${(3 * x1 - 2 * x2 + 1).toFixed(4)}`);
    }
    const data = join(home, 'houses.csv');
    writeFileSync(data, lines.join('\n') + '\n');
    const regressor = {
      kind: 'external',
      command: command('ok'),
      data: { source: 'file', path: data, target: 'price' },
    };
    await expect(service.submit('houses', regressor)).rejects.toThrow(
      /an external trainer for model 'houses' needs 'task'/,
    );
    const submitted = await service.submit('houses', { ...regressor, task: 'regression' });
    const job = await service.wait(submitted.id);
    expect(job.error).toBeNull();
    expect(job.status).toBe('succeeded');
    const metrics = job.metrics?.candidate;
    if (metrics?.task !== 'regression') throw new Error('expected regression metrics');
    expect(metrics.rmse).toBeLessThan(1e-3);
    expect(job.gate).toMatchObject({ passed: true, metric: 'rmse', champion: null });
    const manifest = await registry.getManifest('houses', 1);
    expect(manifest).toMatchObject({ task: 'regression', feature_names: ['x1', 'x2'] });
  });

  it('splits the command template like a shell would, then substitutes whole arguments', () => {
    expect(
      splitCommandTemplate(`python3 "my trainer.py" --name 'a b' x\\ y --out {model}`),
    ).toEqual(['python3', 'my trainer.py', '--name', 'a b', 'x y', '--out', '{model}']);
    expect(() => splitCommandTemplate('python3 "unterminated')).toThrow(/unterminated " quote/);
    expect(
      substitutePlaceholders(['--out={model}', '{train}'], {
        model: '/tmp/a b/model.onnx',
        train: '$(rm -rf ~); echo',
      }),
    ).toEqual(['--out=/tmp/a b/model.onnx', '$(rm -rf ~); echo']);
  });
});
