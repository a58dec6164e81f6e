import { PredictionWriter } from '../../../src/predictions/prediction-writer';
import { ANALYTICS_STORE, AnalyticsStore } from '../../../src/store';
import {
  attackQuery,
  checkTrafficUrl,
  driftImage,
  driftParameters,
  invertIntensity,
  rotateImage,
  runDemoTraffic,
  TrafficScenario,
} from '../../../src/cli/demo-traffic';
import { SeededRandom, TrainingJob } from '../../../src/training';
import { eventually, startTestServer, TestServer, waitChampionReady } from '../../e2e/helpers';
import { isTerminal } from './support';

/**
 * `argus demo traffic` against a real in-process server: an MNIST classifier trained by a job on
 * the `mnist` data set serves real test digits for 2 s per scenario; every request and every
 * label is accepted; drift measurably shifts the inputs the server logged; and a job trains on
 * the logged, labeled traffic itself.
 */

const RATE = 15;
const SECONDS = 2;
const TOTAL = RATE * SECONDS;

function meanIntensity(rows: number[][]): number {
  let sum = 0;
  let n = 0;
  for (const row of rows) {
    for (const v of row) sum += v;
    n += row.length;
  }
  return sum / n;
}

describe('demo traffic', () => {
  let server: TestServer;
  let store: AnalyticsStore;
  const accepted: Record<string, number> = {};

  async function waitForJob(id: string): Promise<TrainingJob> {
    return eventually(
      `job ${id}`,
      async () => {
        const job = (await server.request('GET', `/v1/jobs/${id}`)).body as TrainingJob;
        return isTerminal(job) ? job : undefined;
      },
      60_000,
      100,
    );
  }

  beforeAll(async () => {
    server = await startTestServer();
    store = server.running.app.get<AnalyticsStore>(ANALYTICS_STORE);
    const res = await server.request('POST', '/v1/models/mnist/train', {
      json: { kind: 'softmax', data: 'mnist', epochs: 2 },
    });
    expect(res.status).toBe(202);
    const job = await waitForJob((res.body as TrainingJob).id);
    expect(job.status).toBe('succeeded');
    expect(job.dataset?.source).toMatchObject({ type: 'mnist' });
    expect(job.dataset?.split).toMatchObject({ train: 35000, validation: 1000, test: 2000 });
    const promoted = await server.request('PUT', '/v1/models/mnist/aliases/champion', {
      json: { version: job.candidate_version },
    });
    expect(promoted.status).toBe(200);
    await waitChampionReady(server, 'mnist');
  });

  afterAll(async () => {
    await server?.close();
  });

  it.each(['normal', 'drift', 'attack'] as TrafficScenario[])(
    '%s: every request answered, every label accepted',
    async (scenario) => {
      const started = Date.now();
      const summary = await runDemoTraffic({
        url: server.url,
        model: 'mnist',
        rate: RATE,
        durationSeconds: SECONDS,
        scenario,
        feedbackDelayMs: 200,
        seed: 4,
      });
      const ended = Date.now();
      expect(summary.sent + summary.skipped).toBe(TOTAL);
      expect(summary.error_samples).toEqual([]);
      expect(summary.errors).toBe(0);
      expect(summary.ok).toBe(summary.sent);
      const probes = scenario === 'attack' ? summary.attack_queries : 0;
      expect(summary.feedback).toEqual({
        sent: summary.ok - probes,
        accepted: summary.ok - probes,
        errors: 0,
      });
      expect(summary.accuracy_seen).not.toBeNull();
      accepted[scenario] = summary.feedback.accepted;

      if (scenario === 'attack') {
        expect(summary.attack_queries).toBeGreaterThan(0);
        expect(summary.client_id_headers).toEqual(['x-client-id', 'x-argus-client']);
      }
      if (scenario === 'drift') {
        expect(summary.input_intensity.last_tenth).toBeGreaterThan(
          (summary.input_intensity.first_tenth ?? 1) + 0.2,
        );
        // What the server logged, not just what we think we sent.
        await server.running.app.get(PredictionWriter).flush();
        const logged = await eventually(
          'the drift run to be stored with its labels',
          async () => {
            const rows = await store.labeledPredictions({
              model: 'mnist',
              from: started,
              to: ended + 1,
            });
            return rows.length === summary.feedback.accepted ? rows : undefined;
          },
          30_000,
        );
        const fifth = Math.floor(logged.length / 5);
        const early = meanIntensity(logged.slice(0, fifth).map((r) => r.inputs));
        const late = meanIntensity(logged.slice(-fifth).map((r) => r.inputs));
        expect(late - early).toBeGreaterThan(0.2);
      }
    },
  );

  it('trains a new version on the logged, labeled traffic plus the champion reference sample', async () => {
    await server.running.app.get(PredictionWriter).flush();
    const labeled = accepted.normal + accepted.drift + accepted.attack;
    const res = await server.request('POST', '/v1/models/mnist/train', {
      json: {
        kind: 'softmax',
        epochs: 2,
        data: { source: 'log', since: '1h', include_reference: true },
      },
    });
    expect(res.status).toBe(202);
    const job = await waitForJob((res.body as TrainingJob).id);
    expect(job.error).toBeNull();
    expect(job.status).toBe('succeeded');
    expect(job.parent_version).toBe(1);
    expect(job.dataset?.source).toMatchObject({
      type: 'log',
      labeled_predictions: labeled,
      used_predictions: labeled,
      reference: { version: 1, rows: 500 },
    });
    expect(job.dataset?.rows).toBe(labeled + 500);
    expect(job.gate?.champion_version).toBe(1);
    expect(job.metrics?.champion).not.toBeNull();
  });

  it('refuses a non-loopback URL unless told otherwise', async () => {
    await expect(
      runDemoTraffic({
        url: 'http://192.0.2.10:8080',
        model: 'mnist',
        rate: 1,
        durationSeconds: 1,
        scenario: 'normal',
        feedbackDelayMs: 0,
      }),
    ).rejects.toThrow(
      /refusing to send demo traffic to 192\.0\.2\.10:8080: not a loopback address/,
    );
    expect(checkTrafficUrl('http://192.0.2.10:8080', true).hostname).toBe('192.0.2.10');
    expect(checkTrafficUrl('http://[::1]:8080', false).port).toBe('8080');
    expect(checkTrafficUrl('http://localhost', false).hostname).toBe('localhost');
    expect(() => checkTrafficUrl('ftp://127.0.0.1', false)).toThrow(/http or https/);
  });

  it('shifts images with pure functions', () => {
    const image = new Float32Array(784);
    image[14 * 28 + 20] = 1; // right of centre
    expect(rotateImage(image, 0)).toEqual(image);
    const quarter = rotateImage(image, 90);
    // Image coordinates (y grows downwards): a pixel right of centre turns to below it.
    expect(quarter[20 * 28 + 13]).toBeCloseTo(1, 5);
    expect(invertIntensity(invertIntensity(image, 1), 1)).toEqual(image);
    expect(driftParameters(0)).toEqual({ degrees: 0, sigma: 0, inversion: 0 });
    expect(driftParameters(1)).toEqual({ degrees: 35, sigma: 0.35, inversion: 1 });
    expect(driftImage(image, 0, new SeededRandom(1))).toEqual(image);
    const a = driftImage(image, 0.8, new SeededRandom(2));
    expect(driftImage(image, 0.8, new SeededRandom(2))).toEqual(a);
    const digits = { features: new Float32Array(784 * 2).fill(0.5), rows: 2 };
    const probes = [0, 1, 2].map((i) => attackQuery(i, digits, new SeededRandom(3)));
    expect(probes.every((p) => p.length === 784 && p.every((v) => v >= 0 && v <= 1))).toBe(true);
    expect(probes[2][0]).toBe(1); // the first coordinate probe turns pixel 0 on
  });
});
