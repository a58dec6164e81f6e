import { ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SerializedSpan } from './traced-server';

/**
 * The span tree of predict requests in a real Argus process whose OpenTelemetry SDK starts before
 * Nest, exporting to memory; the spans come back over IPC.
 */
let child: ChildProcess;
let url: string;
let home: string;

function request<T>(message: { type: string }, reply: string): Promise<T> {
  return new Promise((resolve) => {
    const onMessage = (msg: { type: string } & Record<string, unknown>) => {
      if (msg.type === reply) {
        child.off('message', onMessage);
        resolve(msg as unknown as T);
      }
    };
    child.on('message', onMessage);
    child.send(message);
  });
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'argus-tracing-'));
  child = fork(join(__dirname, 'traced-server.ts'), [], {
    execArgv: ['-r', 'ts-node/register/transpile-only'],
    env: { ...process.env, ARGUS_HOME: home, PORT: '0', ARGUS_LOG_FLUSH_MS: '50' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  url = await new Promise<string>((resolve, reject) => {
    child.once('message', (msg: { type: string; url: string }) => resolve(msg.url));
    child.once('exit', (code) => reject(new Error(`traced server exited with ${code}`)));
  });
}, 60_000);

afterAll(async () => {
  if (child.connected) {
    const exited = new Promise((r) => child.once('exit', r));
    child.send({ type: 'stop' });
    await exited;
  }
  rmSync(home, { recursive: true, force: true });
});

async function spansOf(traceId: string, names: string[]): Promise<SerializedSpan[]> {
  for (let i = 0; i < 100; i++) {
    const { spans } = await request<{ spans: SerializedSpan[] }>({ type: 'spans' }, 'spans');
    const mine = spans.filter((s) => s.traceId === traceId);
    if (names.every((n) => mine.some((s) => s.name === n))) return mine;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`spans ${names.join(', ')} did not all arrive for trace ${traceId}`);
}

function byName(spans: SerializedSpan[], name: string): SerializedSpan {
  const span = spans.find((s) => s.name === name);
  if (!span) throw new Error(`no span '${name}' among ${spans.map((s) => s.name).join(', ')}`);
  return span;
}

async function predict(
  traceId: string,
  parentSpanId: string,
  instances: number[][],
): Promise<Response> {
  return fetch(`${url}/v1/models/iris/predict`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      traceparent: `00-${traceId}-${parentSpanId}-01`,
    },
    body: JSON.stringify({ instances }),
  });
}

describe('tracing', () => {
  it('honours traceparent, returns the trace id, and nests argus spans under the request', async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const res = await predict(traceId, 'b7ad6b7169203331', [
      [1, 2, 3, 4],
      [4, 3, 2, 1],
    ]);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-trace-id')).toBe(traceId);

    const spans = await spansOf(traceId, ['argus.predict', 'argus.batch.wait', 'argus.onnx.run']);
    // The server span of the HTTP instrumentation is the child of the caller's span.
    const server = spans.find((s) => s.parentSpanId === 'b7ad6b7169203331');
    expect(server).toBeDefined();
    expect(server!.attributes['http.route'] ?? server!.name).toMatch(/predict/);

    // Every span of the trace hangs from another span of the trace, up to the server span.
    const ids = new Set(spans.map((s) => s.spanId));
    for (const s of spans) if (s !== server) expect(ids.has(s.parentSpanId!)).toBe(true);

    const predictSpan = byName(spans, 'argus.predict');
    expect(predictSpan.attributes).toMatchObject({
      'ml.model.name': 'iris',
      'ml.model.version': 1,
      'ml.route': 'champion',
      'ml.rows': 2,
      'ml.protocol': 'v1',
    });
    const wait = byName(spans, 'argus.batch.wait');
    const run = byName(spans, 'argus.onnx.run');
    expect(wait.parentSpanId).toBe(predictSpan.spanId);
    expect(run.parentSpanId).toBe(predictSpan.spanId);
    expect(run.attributes['ml.batch.size']).toBe(2);
    // Queue wait ends where the run starts, and both sit inside argus.predict.
    expect(wait.endMs).toBeLessThanOrEqual(run.startMs + 1);
    expect(run.startMs).toBeGreaterThanOrEqual(predictSpan.startMs - 1);
    expect(run.endMs).toBeLessThanOrEqual(predictSpan.endMs + 1);
  });

  it('marks a failed prediction with error status and error.type', async () => {
    const traceId = '1af7651916cd43dd8448eb211c80319c';
    const res = await predict(traceId, 'c7ad6b7169203331', [[1, 2, 3]]);
    expect(res.status).toBe(400);
    expect(res.headers.get('x-trace-id')).toBe(traceId);
    const spans = await spansOf(traceId, ['argus.predict']);
    const predictSpan = byName(spans, 'argus.predict');
    expect(predictSpan.statusCode).toBe(2); // SpanStatusCode.ERROR
    expect(predictSpan.attributes['error.type']).toBe('invalid');
    expect(predictSpan.attributes['http.response.status_code']).toBe(400);
  });

  it('starts a new trace without traceparent and still returns its id', async () => {
    const res = await fetch(`${url}/v1/models/iris/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: [[1, 2, 3, 4]] }),
    });
    const traceId = res.headers.get('x-trace-id');
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    const spans = await spansOf(traceId!, ['argus.predict']);
    expect(byName(spans, 'argus.predict').attributes['ml.model.name']).toBe('iris');
  });
});
