import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { RunningServer, startServer } from '../../src/app/server';
import { loadConfig } from '../../src/config';
import { buildDenseNetwork, DenseLayer, OnnxGraphBuilder } from '../../src/onnx';
import { pollUntil, sleep } from '../harness/polling';

/**
 * End-to-end helpers: a real Argus server in-process on a random port with its own temporary
 * ARGUS_HOME, real HTTP through fetch, and the real CLI binary as a child process.
 */

export const REPO_ROOT = join(__dirname, '..', '..');
export const CLI = join(REPO_ROOT, 'bin', 'argus.js');

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface HttpResult {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed body, or undefined when it is not JSON. */
  body: unknown;
}

export interface RequestOptions {
  /** Sent as JSON with `Content-Type: application/json`. */
  json?: unknown;
  /** Sent as is (a raw string or bytes). */
  body?: string | Uint8Array;
  headers?: Record<string, string>;
  /** A request that takes longer than this fails the test instead of hanging it. */
  timeoutMs?: number;
}

export interface TestServer {
  url: string;
  home: string;
  running: RunningServer;
  request(method: string, path: string, options?: RequestOptions): Promise<HttpResult>;
  close(): Promise<void>;
}

export function tempHome(prefix = 'argus-e2e-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function httpRequest(
  url: string,
  method: string,
  options: RequestOptions = {},
): Promise<HttpResult> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  let body: string | Uint8Array | undefined = options.body;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(url, {
    method,
    headers,
    body,
    signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, text, body: parsed };
}

/**
 * Starts Argus in-process with `env` on a random port. The home directory is a fresh temporary
 * directory unless one is given; it is removed on close when this function created it.
 */
export async function startTestServer(
  env: Record<string, string> = {},
  home?: string,
): Promise<TestServer> {
  const ownHome = home === undefined;
  const dir = home ?? tempHome();
  const config = loadConfig({ ARGUS_HOME: dir, PORT: '0', ...env });
  const running = await startServer(config, { waitForModels: true, logger: false });
  return {
    url: running.url,
    home: dir,
    running,
    request: (method, path, options) => httpRequest(running.url + path, method, options),
    close: async () => {
      await running.close();
      if (ownHome) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface RegisterOptions {
  metadata?: unknown;
  alias?: string;
  /** Send raw bytes as application/octet-stream (metadata in X-Argus-Metadata) instead of JSON. */
  octetStream?: boolean;
  headers?: Record<string, string>;
}

/** Registers a model over HTTP; returns the raw answer. */
export function registerModel(
  server: TestServer,
  name: string,
  bytes: Uint8Array,
  options: RegisterOptions = {},
): Promise<HttpResult> {
  const path = `/v1/models/${encodeURIComponent(name)}/versions`;
  if (options.octetStream) {
    const headers: Record<string, string> = {
      'content-type': 'application/octet-stream',
      ...(options.headers ?? {}),
    };
    if (options.metadata !== undefined)
      headers['x-argus-metadata'] = JSON.stringify(options.metadata);
    const query = options.alias ? `?alias=${encodeURIComponent(options.alias)}` : '';
    return server.request('POST', path + query, { body: bytes, headers });
  }
  return server.request('POST', path, {
    json: {
      onnx_base64: Buffer.from(bytes).toString('base64'),
      metadata: options.metadata,
      alias: options.alias,
    },
    headers: options.headers,
  });
}

/** Registers a model and fails loudly unless it was accepted; returns the new version. */
export async function registerOk(
  server: TestServer,
  name: string,
  bytes: Uint8Array,
  options: RegisterOptions = {},
): Promise<number> {
  const res = await registerModel(server, name, bytes, options);
  if (res.status !== 201) {
    throw new Error(`registering ${name} failed: ${res.status} ${res.text}`);
  }
  return (res.body as { version: number }).version;
}

/** Polls `check` until it returns a value other than undefined; fails after `timeoutMs`. */
export function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 15_000,
  intervalMs = 50,
): Promise<T> {
  return pollUntil(what, check, timeoutMs, intervalMs);
}

export { sleep };

/** Waits until the champion of `name` answers ready (registration loads it in the background). */
export async function waitChampionReady(server: TestServer, name: string): Promise<void> {
  await eventually(`${name} to be ready`, async () => {
    const res = await server.request('GET', `/v2/models/${name}/ready`);
    return res.status === 200 ? true : undefined;
  });
}

/** Reads one sample of the Prometheus text format, 0 when the series does not exist yet. */
export function metricValue(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map<string, string>();
    for (const pair of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      have.set(pair[1], pair[2]);
    }
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) return Number(m[3]);
  }
  return 0;
}

export async function scrapeMetrics(server: TestServer): Promise<string> {
  const res = await server.request('GET', '/metrics');
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return res.text;
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

// ---------------------------------------------------------------------------------------------
// Models built here in addition to test/fixtures/models.ts.

function seededLayer(inputs: number, outputs: number, seed: number): DenseLayer {
  const weights = new Float32Array(inputs * outputs);
  const bias = new Float32Array(outputs);
  let s = seed;
  const next = () => {
    s = (s * 1664525 + 1013904223) % 4294967296;
    return s / 4294967296 - 0.5;
  };
  for (let i = 0; i < weights.length; i++) weights[i] = next();
  for (let i = 0; i < bias.length; i++) bias[i] = next() * 0.1;
  return { inputs, outputs, weights, bias };
}

/** A 4 → 8 → 3 classifier like the fixture, with weights chosen by `seed` (versions differ). */
export function classifierVariant(seed: number): Uint8Array {
  return buildDenseNetwork({
    name: `classifier_${seed}`,
    task: 'classification',
    layers: [seededLayer(4, 8, seed), seededLayer(8, 3, seed + 1000)],
  });
}

/**
 * A model slow enough per row that a queue builds up: `depth` chained 256×256 MatMuls with the
 * identity matrix, so the output equals the input (`value`, [batch, 256]).
 */
export function slowIdentityModel(depth = 60, width = 256): Uint8Array {
  const identity = new Float32Array(width * width);
  for (let i = 0; i < width; i++) identity[i * width + i] = 1;
  const g = new OnnxGraphBuilder('slow_identity')
    .input('input', 'float32', ['batch', width])
    .initializer('I', { type: 'float32', dims: [width, width], values: identity });
  let current = 'input';
  for (let i = 0; i < depth; i++) {
    const out = i === depth - 1 ? 'value' : `h${i}`;
    g.node('MatMul', [current, 'I'], [out]);
    current = out;
  }
  return g.output('value', 'float32', ['batch', width]).toBytes();
}

// ---------------------------------------------------------------------------------------------
// Direct onnxruntime-node runs, the independent reference for what the server answers.

export class ReferenceModel {
  private constructor(private readonly session: ort.InferenceSession) {}

  static async load(bytes: Uint8Array): Promise<ReferenceModel> {
    return new ReferenceModel(await ort.InferenceSession.create(bytes));
  }

  /** Runs FP32 rows through the single input and returns each output as rows of numbers. */
  async runRows(rows: number[][]): Promise<Record<string, number[][]>> {
    const width = rows[0].length;
    const data = Float32Array.from(rows.flat());
    const inputName = this.session.inputNames[0];
    const results = await this.session.run({
      [inputName]: new ort.Tensor('float32', data, [rows.length, width]),
    });
    const out: Record<string, number[][]> = {};
    for (const name of this.session.outputNames) {
      const t = results[name];
      const values = Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
      const w = t.dims.length > 1 ? t.dims.slice(1).reduce((a, b) => a * b, 1) : 1;
      out[name] = Array.from({ length: rows.length }, (_, r) => values.slice(r * w, (r + 1) * w));
    }
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** Deterministic pseudo-random rows in [-2, 2). */
export function randomRows(count: number, width: number, seed = 7): number[][] {
  let s = seed;
  const next = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s / 2147483648) * 4 - 2;
  };
  return Array.from({ length: count }, () =>
    Array.from({ length: width }, () => Math.round(next() * 1000) / 1000),
  );
}

export function argmax(values: number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

// ---------------------------------------------------------------------------------------------
// The CLI.

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/argus.js ...args`; never throws on a non-zero exit. */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, ...env },
        maxBuffer: 64 * 1024 * 1024,
        timeout: 120_000,
      },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') {
          reject(new Error(`could not run the CLI: ${err.message}`));
          return;
        }
        resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
      },
    );
  });
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * The CLI runs from dist/. Builds it once when it is missing or older than src/ (`npm test`
 * builds before jest, so this only costs time when jest is run directly after an edit).
 */
export function ensureBuilt(): void {
  const main = join(REPO_ROOT, 'dist', 'cli', 'main.js');
  let builtAt = 0;
  try {
    builtAt = statSync(main).mtimeMs;
  } catch {
    builtAt = 0;
  }
  if (builtAt >= newestMtime(join(REPO_ROOT, 'src'))) return;
  try {
    execFileSync(
      process.execPath,
      [join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
      { cwd: REPO_ROOT, stdio: 'pipe' },
    );
  } catch (err) {
    // tsc still emits when a file elsewhere has a type error; the CLI tests judge the result.
    const out = (err as { stdout?: Buffer }).stdout?.toString() ?? '';
    process.stderr.write(`tsc reported problems while building dist/:\n${out.slice(0, 2000)}\n`);
  }
}
