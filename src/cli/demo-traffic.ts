import { InvalidInputError } from '../common/errors';
import { loadMnistSplit, MNIST_FEATURE_COUNT, MNIST_IMAGE_SIZE } from '../training/datasets/mnist';
import { SeededRandom } from '../training/trainers/random';

/**
 * `argus demo traffic`: real MNIST test digits sent to a running Argus at a steady rate, with
 * their true labels sent back as feedback after a delay, so monitoring, retraining and security
 * have something real to look at.
 *
 * - `normal`: digits as they are, from 20 client ids.
 * - `drift`: the same, gradually shifted over the run — rotation up to 35°, Gaussian noise up to
 *   σ = 0.35, and in the last 40 % an increasingly inverted intensity. Labels stay true.
 * - `attack`: normal traffic plus, for half the requests, model-extraction-style probes from a
 *   single client (`demo-attacker`): uniform noise images, interpolations between two digits, and
 *   a fixed digit with one pixel set at a time. Probes have no true label and get no feedback.
 *
 * The client id travels in two headers, `x-client-id` and `x-argus-client`: the service does not
 * read a client id from requests yet (security issue), and either name may be the one it picks.
 *
 * The image functions below are pure (28×28 row-major Float32Array in [0, 1]).
 */

export type TrafficScenario = 'normal' | 'drift' | 'attack';
export const TRAFFIC_SCENARIOS: readonly TrafficScenario[] = ['normal', 'drift', 'attack'];
export const ATTACKER_CLIENT_ID = 'demo-attacker';
export const CLIENT_ID_HEADERS = ['x-client-id', 'x-argus-client'] as const;

const SIZE = MNIST_IMAGE_SIZE;
const BENIGN_CLIENTS = 20;
const FEEDBACK_FLUSH_MS = 250;
const MAX_FEEDBACK_ROWS = 10_000;
const REQUEST_TIMEOUT_MS = 10_000;

function clip01(value: number): number {
  return value < 0 ? 0 : value > 1 ? 1 : value;
}

/**
 * Rotated by `degrees` about the image centre (clockwise as displayed, rows running downwards),
 * bilinear, zeros outside.
 */
export function rotateImage(pixels: ArrayLike<number>, degrees: number): Float32Array {
  const out = new Float32Array(SIZE * SIZE);
  const radians = (degrees * Math.PI) / 180;
  const cos = Math.cos(radians);
  const sin = Math.sin(radians);
  const centre = (SIZE - 1) / 2;
  const at = (x: number, y: number) =>
    x < 0 || y < 0 || x >= SIZE || y >= SIZE ? 0 : pixels[y * SIZE + x];
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      // Inverse mapping: where in the source does this output pixel come from?
      const dx = x - centre;
      const dy = y - centre;
      const sx = cos * dx + sin * dy + centre;
      const sy = -sin * dx + cos * dy + centre;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      const value =
        at(x0, y0) * (1 - fx) * (1 - fy) +
        at(x0 + 1, y0) * fx * (1 - fy) +
        at(x0, y0 + 1) * (1 - fx) * fy +
        at(x0 + 1, y0 + 1) * fx * fy;
      out[y * SIZE + x] = clip01(value);
    }
  }
  return out;
}

/** Plus N(0, σ²) per pixel, clipped to [0, 1]. */
export function addNoise(
  pixels: ArrayLike<number>,
  sigma: number,
  random: SeededRandom,
): Float32Array {
  const out = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) out[i] = clip01(pixels[i] + sigma * random.nextNormal());
  return out;
}

/** Blends towards the negative: amount 0 is the image, 1 is 1 − image. */
export function invertIntensity(pixels: ArrayLike<number>, amount: number): Float32Array {
  const a = clip01(amount);
  const out = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) out[i] = (1 - a) * pixels[i] + a * (1 - pixels[i]);
  return out;
}

/** The drift schedule at `progress` ∈ [0, 1] of the run. */
export function driftParameters(progress: number): {
  degrees: number;
  sigma: number;
  inversion: number;
} {
  const p = clip01(progress);
  return { degrees: 35 * p, sigma: 0.35 * p, inversion: clip01((p - 0.6) / 0.4) };
}

export function driftImage(
  pixels: ArrayLike<number>,
  progress: number,
  random: SeededRandom,
): Float32Array {
  const { degrees, sigma, inversion } = driftParameters(progress);
  let image: ArrayLike<number> = pixels;
  if (degrees > 0) image = rotateImage(image, degrees);
  if (sigma > 0) image = addNoise(image, sigma, random);
  return inversion > 0 ? invertIntensity(image, inversion) : Float32Array.from(image);
}

/**
 * The `index`-th extraction-style probe: uniform noise, an interpolation between two digits
 * (α = 0, 0.1, …, 1), or `base` with one pixel turned fully on, pixel after pixel.
 */
export function attackQuery(
  index: number,
  digits: { features: Float32Array; rows: number },
  random: SeededRandom,
): Float32Array {
  const digit = (row: number) =>
    digits.features.subarray(row * MNIST_FEATURE_COUNT, (row + 1) * MNIST_FEATURE_COUNT);
  switch (index % 3) {
    case 0: {
      const out = new Float32Array(MNIST_FEATURE_COUNT);
      for (let i = 0; i < out.length; i++) out[i] = random.nextFloat();
      return out;
    }
    case 1: {
      const a = digit(random.nextInt(digits.rows));
      const b = digit(random.nextInt(digits.rows));
      const alpha = (Math.floor(index / 3) % 11) / 10;
      const out = new Float32Array(MNIST_FEATURE_COUNT);
      for (let i = 0; i < out.length; i++) out[i] = (1 - alpha) * a[i] + alpha * b[i];
      return out;
    }
    default: {
      const out = Float32Array.from(digit(0));
      out[Math.floor(index / 3) % MNIST_FEATURE_COUNT] = 1;
      return out;
    }
  }
}

/** Throws unless `url` is http(s) on a loopback host (or `allowRemote`). */
export function checkTrafficUrl(url: string, allowRemote: boolean): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidInputError(`--url ${JSON.stringify(url)} is not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new InvalidInputError(`--url must be http or https, got ${parsed.protocol}`);
  }
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
  if (!loopback && !allowRemote) {
    throw new InvalidInputError(
      `refusing to send demo traffic to ${parsed.host}: not a loopback address; pass --allow-remote if you mean it`,
    );
  }
  return parsed;
}

export interface DemoTrafficOptions {
  url: string;
  model: string;
  /** Requests per second (one digit per request). */
  rate: number;
  durationSeconds: number;
  scenario: TrafficScenario;
  feedbackDelayMs: number;
  seed?: number;
  allowRemote?: boolean;
  /** Requests in flight at most; a send due while full is skipped and counted. */
  maxInFlight?: number;
  signal?: AbortSignal;
  /** Called about every 250 ms with the seconds elapsed. */
  onTick?: (elapsedSeconds: number, stats: { sent: number; ok: number; errors: number }) => void;
}

export interface DemoTrafficSummary {
  scenario: TrafficScenario;
  model: string;
  url: string;
  seconds: number;
  sent: number;
  ok: number;
  errors: number;
  /** Sends skipped because `maxInFlight` requests were outstanding (the server is too slow). */
  skipped: number;
  /** Up to five distinct error messages. */
  error_samples: string[];
  /** Extraction-style probes sent from `demo-attacker` (attack scenario). */
  attack_queries: number;
  feedback: { sent: number; accepted: number; errors: number };
  /** Share of labeled digits the model got right (probes excluded); null before any answer. */
  accuracy_seen: number | null;
  /** Mean pixel intensity of the inputs sent in the first and last tenth of the run. */
  input_intensity: { first_tenth: number | null; last_tenth: number | null };
  client_id_headers: readonly string[];
}

interface PendingFeedback {
  due: number;
  predictionId: string;
  label: string;
}

interface PredictResponse {
  prediction_ids?: string[];
  predictions?: Array<{ label?: string }>;
}

/** fetch's "fetch failed" with the reason underneath (ECONNREFUSED, a reset, a time-out). */
function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as Error & { cause?: unknown }).cause;
  return cause instanceof Error ? `${err.message} (${cause.message})` : err.message;
}

function round4(values: Float32Array): number[] {
  return Array.from(values, (v) => Math.round(v * 1e4) / 1e4);
}

function mean(values: Float32Array): number {
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

export async function runDemoTraffic(options: DemoTrafficOptions): Promise<DemoTrafficSummary> {
  const base = checkTrafficUrl(options.url, options.allowRemote === true);
  if (!TRAFFIC_SCENARIOS.includes(options.scenario)) {
    throw new InvalidInputError(
      `unknown scenario '${String(options.scenario)}'; one of ${TRAFFIC_SCENARIOS.join(', ')}`,
    );
  }
  if (!(options.rate > 0) || !(options.durationSeconds > 0)) {
    throw new InvalidInputError('rate and duration must be positive');
  }
  const root = base.href.replace(/\/+$/, '');
  const predictUrl = `${root}/v1/models/${encodeURIComponent(options.model)}/predict`;
  const feedbackUrl = `${root}/v1/feedback`;
  const split = await loadMnistSplit();
  const test = split.test;
  const digits = { features: test.features, rows: test.labels.length };
  const random = new SeededRandom(options.seed ?? 1);
  const order = random.permutation(digits.rows);
  const maxInFlight = options.maxInFlight ?? 64;
  const total = Math.max(1, Math.floor(options.rate * options.durationSeconds));

  const summary: DemoTrafficSummary = {
    scenario: options.scenario,
    model: options.model,
    url: root,
    seconds: 0,
    sent: 0,
    ok: 0,
    errors: 0,
    skipped: 0,
    error_samples: [],
    attack_queries: 0,
    feedback: { sent: 0, accepted: 0, errors: 0 },
    accuracy_seen: null,
    input_intensity: { first_tenth: null, last_tenth: null },
    client_id_headers: CLIENT_ID_HEADERS,
  };
  const intensity = { first: { sum: 0, n: 0 }, last: { sum: 0, n: 0 } };
  let correct = 0;
  let labeledAnswers = 0;
  let attackIndex = 0;
  let digitIndex = 0;
  const pendingFeedback: PendingFeedback[] = [];
  const inFlight = new Set<Promise<void>>();

  const recordError = (message: string) => {
    summary.errors++;
    if (summary.error_samples.length < 5 && !summary.error_samples.includes(message)) {
      summary.error_samples.push(message);
    }
  };

  const send = async (pixels: Float32Array, clientId: string, label: string | null) => {
    summary.sent++;
    try {
      const res = await fetch(predictUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [CLIENT_ID_HEADERS[0]]: clientId,
          [CLIENT_ID_HEADERS[1]]: clientId,
        },
        body: JSON.stringify({ instances: [round4(pixels)] }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const text = await res.text();
      if (res.status !== 200) {
        recordError(`HTTP ${res.status}: ${text.slice(0, 200)}`);
        return;
      }
      summary.ok++;
      if (label === null) return;
      const body = JSON.parse(text) as PredictResponse;
      const id = body.prediction_ids?.[0];
      const predicted = body.predictions?.[0]?.label;
      labeledAnswers++;
      if (predicted === label) correct++;
      if (id)
        pendingFeedback.push({
          due: Date.now() + options.feedbackDelayMs,
          predictionId: id,
          label,
        });
    } catch (err) {
      recordError(describeError(err));
    }
  };

  const flushFeedback = async (all: boolean) => {
    const now = Date.now();
    const due: PendingFeedback[] = [];
    while (pendingFeedback.length > 0 && (all || pendingFeedback[0].due <= now)) {
      due.push(pendingFeedback.shift() as PendingFeedback);
    }
    for (let start = 0; start < due.length; start += MAX_FEEDBACK_ROWS) {
      const rows = due.slice(start, start + MAX_FEEDBACK_ROWS);
      summary.feedback.sent += rows.length;
      try {
        const res = await fetch(feedbackUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(
            rows.map((r) => ({ prediction_id: r.predictionId, label: r.label })),
          ),
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        const text = await res.text();
        if (res.status === 200) {
          summary.feedback.accepted += (JSON.parse(text) as { accepted?: number }).accepted ?? 0;
        } else {
          summary.feedback.errors += rows.length;
          recordError(`feedback HTTP ${res.status}: ${text.slice(0, 200)}`);
        }
      } catch (err) {
        summary.feedback.errors += rows.length;
        recordError(`feedback: ${describeError(err)}`);
      }
    }
  };

  /** The next request of the scenario at `progress` ∈ [0, 1). */
  const nextRequest = (k: number, progress: number) => {
    if (options.scenario === 'attack' && k % 2 === 1) {
      summary.attack_queries++;
      return {
        pixels: attackQuery(attackIndex++, digits, random),
        clientId: ATTACKER_CLIENT_ID,
        label: null,
      };
    }
    const row = order[digitIndex++ % digits.rows];
    const original = digits.features.subarray(
      row * MNIST_FEATURE_COUNT,
      (row + 1) * MNIST_FEATURE_COUNT,
    );
    const pixels =
      options.scenario === 'drift'
        ? driftImage(original, progress, random)
        : Float32Array.from(original);
    return {
      pixels,
      clientId: `demo-client-${1 + (k % BENIGN_CLIENTS)}`,
      label: split.classNames[test.labels[row]],
    };
  };

  const started = Date.now();
  let scheduled = 0;
  let lastTick = 0;
  let lastFeedback = started;
  // Ends after exactly `total` sends (or skips): the last is due at (total − 1) / rate seconds,
  // inside the duration, so a slow timer makes the run a little longer, never shorter.
  while (scheduled < total && !options.signal?.aborted) {
    const elapsed = Date.now() - started;
    const due = Math.min(total, Math.floor((elapsed / 1000) * options.rate) + 1);
    while (scheduled < due) {
      const k = scheduled++;
      const progress = k / total;
      if (inFlight.size >= maxInFlight) {
        summary.skipped++;
        continue;
      }
      const request = nextRequest(k, progress);
      const m = mean(request.pixels);
      if (progress < 0.1) {
        intensity.first.sum += m;
        intensity.first.n++;
      } else if (progress >= 0.9) {
        intensity.last.sum += m;
        intensity.last.n++;
      }
      const promise: Promise<void> = send(request.pixels, request.clientId, request.label).finally(
        () => inFlight.delete(promise),
      );
      inFlight.add(promise);
    }
    if (Date.now() - lastFeedback >= FEEDBACK_FLUSH_MS) {
      lastFeedback = Date.now();
      await flushFeedback(false);
    }
    if (elapsed - lastTick >= 250) {
      lastTick = elapsed;
      options.onTick?.(elapsed / 1000, summary);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await Promise.all([...inFlight]);
  // The last labels are sent once their delay is up (or at once when interrupted).
  if (!options.signal?.aborted) {
    const lastDue =
      pendingFeedback.length > 0 ? pendingFeedback[pendingFeedback.length - 1].due : 0;
    const wait = Math.max(0, lastDue - Date.now());
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  await flushFeedback(true);

  summary.seconds = (Date.now() - started) / 1000;
  summary.accuracy_seen = labeledAnswers > 0 ? correct / labeledAnswers : null;
  summary.input_intensity = {
    first_tenth: intensity.first.n > 0 ? intensity.first.sum / intensity.first.n : null,
    last_tenth: intensity.last.n > 0 ? intensity.last.sum / intensity.last.n : null,
  };
  return summary;
}
