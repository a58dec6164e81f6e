import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { loadMnistSplit, TrainingJob } from '../../../src/training';
import {
  eventually,
  registerOk,
  REPO_ROOT,
  startTestServer,
  TestServer,
  waitChampionReady,
} from '../../e2e/helpers';
import { mnistSizedClassifier } from '../../fixtures/models';

/**
 * Serving keeps answering while a training job trains: the same bounded load (autocannon in its
 * own process, a real MNIST digit per request to the MNIST classifier) is run idle and while the
 * demo network (784 → 128 → 10) trains in a worker thread. Every request must succeed in both
 * phases. The latency figures are printed for the record, never asserted (DESIGN.md §7: speed is
 * measured, not asserted, on shared 2-core machines).
 */

const AUTOCANNON = join(REPO_ROOT, 'node_modules', 'autocannon', 'autocannon.js');
const REQUESTS = 2000;
const CONNECTIONS = 4;

interface LoadResult {
  latency: { p50: number; p90: number; p99: number; max: number; average: number };
  requests: { average: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  '2xx': number;
}

function load(url: string, body: string, amount = REQUESTS): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [
        AUTOCANNON,
        '-c',
        String(CONNECTIONS),
        '-a',
        String(amount),
        '-m',
        'POST',
        '-H',
        'content-type=application/json',
        '-b',
        body,
        '-n',
        '-j',
        url,
      ],
      { maxBuffer: 16 * 1024 * 1024, timeout: 120_000 },
      (err, stdout) => {
        if (err) reject(new Error(`autocannon failed: ${err.message}`));
        else resolve(JSON.parse(stdout) as LoadResult);
      },
    );
  });
}

describe('serving while a training job runs', () => {
  let server: TestServer;

  async function job(id: string): Promise<TrainingJob> {
    return (await server.request('GET', `/v1/jobs/${id}`)).body as TrainingJob;
  }

  beforeAll(async () => {
    server = await startTestServer({ ARGUS_LOG_INPUTS: 'none' });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('answers every request, idle and during training (p99 printed for the record)', async () => {
    // The demo's network shape with fixed weights: what is served matters, not how well.
    await registerOk(server, 'mnist', mnistSizedClassifier(), { alias: 'champion' });
    await waitChampionReady(server, 'mnist');

    const split = await loadMnistSplit();
    const digit = Array.from(
      split.test.features.subarray(0, 784),
      (v) => Math.round(v * 1e4) / 1e4,
    );
    const body = JSON.stringify({ instances: [digit] });
    const url = `${server.url}/v1/models/mnist/predict`;
    await load(url, body, 300); // warm-up: JIT, connections, the batcher's first batches
    const idle = await load(url, body);

    const started = await server.request('POST', '/v1/models/mnist/train', {
      json: { kind: 'mlp', data: 'mnist', epochs: 200, options: { patience: 200 } },
    });
    expect(started.status).toBe(202);
    const id = (started.body as TrainingJob).id;
    await eventually(
      'the job to train',
      async () => {
        const j = await job(id);
        return j.status === 'running' && (j.progress?.epoch ?? 0) >= 1 ? j : undefined;
      },
      60_000,
      100,
    );
    const training = await load(url, body);
    const during = await job(id);
    expect(during.status).toBe('running');
    const cancelled = await server.request('POST', `/v1/jobs/${id}/cancel`);
    expect((cancelled.body as TrainingJob).status).toBe('cancelled');

    for (const phase of [idle, training]) {
      expect({
        non2xx: phase.non2xx,
        errors: phase.errors,
        timeouts: phase.timeouts,
        ok: phase['2xx'],
      }).toEqual({
        non2xx: 0,
        errors: 0,
        timeouts: 0,
        ok: REQUESTS,
      });
    }
    const row = (name: string, r: LoadResult) =>
      `${name.padEnd(9)} p50 ${r.latency.p50} ms  p90 ${r.latency.p90} ms  p99 ${r.latency.p99} ms  max ${r.latency.max} ms  ${Math.round(r.requests.average)} req/s`;
    process.stdout.write(
      `\npredict over HTTP, ${REQUESTS} requests, ${CONNECTIONS} connections, MNIST 784-128-10 served; ` +
        `training: 784-128-10 MLP on 35000 digit images in a worker thread (epoch ${during.progress?.epoch} when the load ended)\n` +
        `${row('idle', idle)}\n${row('training', training)}\n` +
        `p99 ratio training/idle: ${(training.latency.p99 / Math.max(idle.latency.p99, 0.001)).toFixed(2)}\n`,
    );
  });
});
