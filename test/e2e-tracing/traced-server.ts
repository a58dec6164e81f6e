/**
 * A real Argus process for the tracing tests: OpenTelemetry starts first (as `bin/argus.js serve`
 * does), with an in-memory exporter whose finished spans the test reads over IPC. Run by
 * tracing.test.ts with `node -r ts-node/register/transpile-only`.
 */
import {
  InMemorySpanExporter,
  ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { startTracing } from '../../src/telemetry/tracing';

export interface SerializedSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  attributes: Record<string, unknown>;
  statusCode: number;
  startMs: number;
  endMs: number;
}

const exporter = new InMemorySpanExporter();
startTracing(
  { spanProcessors: [new SimpleSpanProcessor(exporter)] },
  { OTEL_TRACES_EXPORTER: 'none' },
);

function serialize(s: ReadableSpan): SerializedSpan {
  return {
    name: s.name,
    traceId: s.spanContext().traceId,
    spanId: s.spanContext().spanId,
    parentSpanId: s.parentSpanContext?.spanId,
    attributes: { ...s.attributes },
    statusCode: s.status.code,
    startMs: s.startTime[0] * 1000 + s.startTime[1] / 1e6,
    endMs: s.endTime[0] * 1000 + s.endTime[1] / 1e6,
  };
}

void (async () => {
  // Loaded only now, so the instrumentations see Fastify and http being required.
  const { startServer } = await import('../../src/app/server');
  const { loadConfig } = await import('../../src/config');
  const { ModelRegistry } = await import('../../src/registry');
  const { ModelRuntime } = await import('../../src/inference/model-runtime');
  const { irisLikeClassifier, CLASSIFIER_META } = await import('../fixtures/models');
  const server = await startServer(loadConfig(process.env), { logger: false, waitForModels: true });
  await server.app
    .get(ModelRegistry)
    .register('iris', irisLikeClassifier(), CLASSIFIER_META, { alias: 'champion' });
  await server.app.get(ModelRuntime).reconcile('iris');
  process.on('message', (msg: { type: string }) => {
    if (msg.type === 'spans')
      process.send!({ type: 'spans', spans: exporter.getFinishedSpans().map(serialize) });
    if (msg.type === 'stop') void server.close().then(() => process.exit(0));
  });
  process.send!({ type: 'ready', url: server.url });
})();
