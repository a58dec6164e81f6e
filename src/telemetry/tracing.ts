import FastifyOtelInstrumentation from '@fastify/otel';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';

/**
 * OpenTelemetry start-up. It must run before Nest and Fastify are loaded so the instrumentations
 * can hook them: `bin/argus.js serve` requires `register-tracing.js` first, and so does
 * `node --require ./dist/telemetry/register-tracing.js`.
 *
 * The exporter follows the standard variables (`OTEL_TRACES_EXPORTER`, `OTEL_EXPORTER_OTLP_*`,
 * `OTEL_TRACES_SAMPLER[_ARG]`, `OTEL_SERVICE_NAME`). One deliberate difference from the SDK
 * default: with no exporter and no OTLP endpoint configured, tracing stays off instead of sending
 * to a collector on localhost that a laptop does not run. A second one: the SDK also starts OTLP
 * metrics and logs pipelines unless told `none`; Argus's metrics are Prometheus (`/metrics`), so
 * those two default to `none` here (an explicit `OTEL_METRICS_EXPORTER` / `OTEL_LOGS_EXPORTER`
 * still wins). Otherwise every request also records OpenTelemetry HTTP metrics nobody asked for.
 */
export interface TracingOptions {
  /** Extra processors (tests use an in-memory exporter). */
  spanProcessors?: SpanProcessor[];
}

let sdk: NodeSDK | undefined;

export function tracingExporter(env: NodeJS.ProcessEnv = process.env): string {
  if (env.OTEL_SDK_DISABLED === 'true') return 'none';
  if (env.OTEL_TRACES_EXPORTER) return env.OTEL_TRACES_EXPORTER;
  return env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
    ? 'otlp'
    : 'none';
}

const UNTRACED_PATHS = /^\/(metrics|v2\/health\/|docs)/;

export function startTracing(
  options: TracingOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  if (sdk) return true;
  const exporter = tracingExporter(env);
  if (exporter === 'none' && !options.spanProcessors?.length) return false;
  if (exporter === 'none') process.env.OTEL_TRACES_EXPORTER = 'none';
  // The SDK reads these from process.env, not from `env`.
  process.env.OTEL_METRICS_EXPORTER =
    env.OTEL_METRICS_EXPORTER ?? process.env.OTEL_METRICS_EXPORTER ?? 'none';
  process.env.OTEL_LOGS_EXPORTER =
    env.OTEL_LOGS_EXPORTER ?? process.env.OTEL_LOGS_EXPORTER ?? 'none';
  sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME ?? 'argus',
    ...(options.spanProcessors ? { spanProcessors: options.spanProcessors } : {}),
    instrumentations: [
      new HttpInstrumentation({
        // Outgoing calls only. Incoming requests get their server span from @fastify/otel, which
        // extracts `traceparent` itself and carries http.route; a second server span per request
        // from the http instrumentation (plus its context wrapping of the whole request) cost
        // ~15 % of the server's CPU at 1-row requests (bench/serving, tracing always_on).
        disableIncomingRequestInstrumentation: true,
      }),
      new UndiciInstrumentation(),
      new FastifyOtelInstrumentation({
        registerOnInitialization: true,
        // One span per request; a span per lifecycle hook, or a handler span that repeats the
        // request span's timing, costs more than it tells (argus.predict times the handler).
        instrumentHooks: false,
        instrumentHandler: false,
        // Scrapes and probes every few seconds would drown the traces that matter.
        ignorePaths: (route: { url: string }) => UNTRACED_PATHS.test(route.url),
      }),
    ],
  });
  sdk.start();
  return true;
}

/** Flushes pending spans; called on shutdown. */
export async function stopTracing(): Promise<void> {
  const running = sdk;
  sdk = undefined;
  await running?.shutdown();
}
