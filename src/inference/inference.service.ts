import { Inject, Injectable, Optional } from '@nestjs/common';
import { Span, SpanStatusCode, trace } from '@opentelemetry/api';
import { randomUUID } from 'node:crypto';
import type { Counter, Histogram } from 'prom-client';
import { ARGUS_CONFIG, ArgusConfig } from '../config';
import { httpStatusOf } from '../http/error-status';
import { Tensor } from '../onnx/tensor';
import { LoggedFloats, PredictionRecord, PredictionRoute } from '../predictions/prediction-record';
import { ModelManifest } from '../registry/manifest';
import { ArgusMetrics } from '../telemetry/metrics';
import { ArgusError, errorMessage } from '../common/errors';
import { ModelRuntime } from './model-runtime';
import { PREDICTION_SINK, PredictionSink } from './prediction-sink';

/** Who is asking, independent of the protocol they used. */
export interface InferenceCall {
  model: string;
  version?: number;
  requestId: string;
  protocol: 'v2' | 'v1' | 'cli';
  clientId?: string;
  traceId?: string;
  spanId?: string;
}

/** What a protocol adapter decoded, validated against the model's signature. */
export interface DecodedInputs {
  inputs: Tensor[];
  rows: number;
}

export interface InferenceOutcome<D extends DecodedInputs> {
  manifest: ModelManifest;
  route: PredictionRoute;
  decoded: D;
  outputs: Map<string, Tensor>;
  predictionIds: string[];
  batchSize: number;
  /** The W3C trace id of this request, when tracing is on. */
  traceId: string | undefined;
}

const tracer = trace.getTracer('argus');

interface ServedSeries {
  succeeded: Counter.Internal;
  rows: Counter.Internal;
  duration: Histogram.Internal<string>;
}

/** The call with the request's trace ids, for the prediction log (only built when logging). */
function withTrace(call: InferenceCall, span: Span, traced: boolean): InferenceCall {
  if (!traced) return call;
  const { traceId, spanId } = span.spanContext();
  return { traceId, spanId, ...call };
}

/**
 * The transport-neutral data plane: every front door (KServe V2, v1 JSON, CLI) resolves the model,
 * decodes with the model's signature, runs through the batcher and records the predictions here.
 */
@Injectable()
export class InferenceService {
  constructor(
    @Inject(ARGUS_CONFIG) private readonly config: ArgusConfig,
    private readonly runtime: ModelRuntime,
    private readonly metrics: ArgusMetrics,
    @Optional() @Inject(PREDICTION_SINK) private readonly sink?: PredictionSink,
  ) {}

  private readonly series = new Map<string, ServedSeries>();

  get maxRowsPerRequest(): number {
    return this.config.server.maxRowsPerRequest;
  }

  async infer<D extends DecodedInputs>(
    call: InferenceCall,
    decode: (manifest: ModelManifest) => D,
  ): Promise<InferenceOutcome<D>> {
    return tracer.startActiveSpan(
      'argus.predict',
      { attributes: { 'ml.protocol': call.protocol } },
      async (span) => {
        try {
          return await this.inferInSpan(call, decode, span);
        } finally {
          span.end();
        }
      },
    );
  }

  private async inferInSpan<D extends DecodedInputs>(
    call: InferenceCall,
    decode: (manifest: ModelManifest) => D,
    span: Span,
  ): Promise<InferenceOutcome<D>> {
    const started = process.hrtime.bigint();
    const spanContext = span.spanContext();
    const traced = trace.isSpanContextValid(spanContext);
    const traceId = traced ? spanContext.traceId : undefined;
    let manifest: ModelManifest | undefined;
    let route: PredictionRoute = call.version === undefined ? 'champion' : 'pinned';
    try {
      // A loaded champion resolves without a promise: one microtask hop less per request.
      const resolved =
        this.runtime.resolveLoaded(call.model, call.version) ??
        (await this.runtime.resolve(call.model, call.version));
      manifest = resolved.model.manifest;
      route = resolved.route;
      const recording = span.isRecording();
      if (recording) {
        span.setAttributes({
          'ml.model.name': manifest.name,
          'ml.model.version': manifest.version,
          'ml.route': route,
        });
      }
      const decoded = decode(manifest);
      if (recording) span.setAttribute('ml.rows', decoded.rows);
      const result = await resolved.model.infer(decoded.inputs, decoded.rows);
      // Children of an unsampled span would be dropped anyway: skip building them.
      if (recording) {
        const batchAttributes = { 'ml.batch.size': result.batchSize };
        tracer
          .startSpan('argus.batch.wait', {
            startTime: result.submittedAt,
            attributes: {
              ...batchAttributes,
              'ml.queue.wait_us': Math.round(result.queueWaitMicros),
            },
          })
          .end(result.submittedAt + result.queueWaitMicros / 1000);
        tracer
          .startSpan('argus.onnx.run', {
            startTime: result.runStartedAt,
            attributes: batchAttributes,
          })
          .end(result.runEndedAt);
      }
      const predictionIds = new Array<string>(decoded.rows);
      for (let r = 0; r < decoded.rows; r++) predictionIds[r] = randomUUID();
      const latencyUs = Number(process.hrtime.bigint() - started) / 1000;
      const series = this.seriesFor(resolved.model.key, manifest, route, call.protocol);
      series.succeeded.inc();
      series.rows.inc(decoded.rows);
      series.duration.observe(latencyUs / 1e6);
      if (this.sink) {
        const pending = this.sink.record(
          this.successRecords(
            withTrace(call, span, traced),
            manifest,
            route,
            decoded,
            result.outputs,
            predictionIds,
            latencyUs,
            result.batchSize,
          ),
        );
        if (pending) await pending;
      }
      return {
        manifest,
        route,
        decoded,
        outputs: result.outputs,
        predictionIds,
        batchSize: result.batchSize,
        traceId,
      };
    } catch (err) {
      const status = httpStatusOf(err);
      span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(err) });
      span.setAttribute(
        'error.type',
        err instanceof ArgusError ? err.kind : ((err as Error)?.name ?? 'Error'),
      );
      span.setAttribute('http.response.status_code', status);
      if (status < 500 || status === 503) {
        this.metrics.rejectedRequests.inc({
          protocol: call.protocol,
          reason: err instanceof ArgusError ? err.kind : 'other',
        });
      }
      // Unknown model names are caller-controlled: never let them become label values.
      const model = manifest?.name ?? '';
      this.metrics.requests.inc({
        model,
        version: manifest ? String(manifest.version) : '',
        route: manifest ? route : '',
        protocol: call.protocol,
        status: String(status),
      });
      if (this.sink) {
        const record = this.failureRecord(
          withTrace(call, span, traced),
          manifest,
          route,
          status,
          errorMessage(err),
          started,
        );
        await Promise.resolve(this.sink.record([record])).catch(() => undefined);
      }
      throw err;
    }
  }

  /**
   * The labelled series of one (version, route, protocol), bound once. prom-client otherwise
   * validates and hashes the label set on every inc/observe: three calls a request cost ~4-5 µs.
   * The cache holds no more entries than prom-client holds series.
   */
  private seriesFor(
    key: string,
    manifest: ModelManifest,
    route: PredictionRoute,
    protocol: InferenceCall['protocol'],
  ): ServedSeries {
    const cacheKey = `${key}|${route}|${protocol}`;
    let series = this.series.get(cacheKey);
    if (!series) {
      const model = manifest.name;
      const version = String(manifest.version);
      series = {
        succeeded: this.metrics.requests.labels(model, version, route, protocol, '200'),
        rows: this.metrics.predictedRows.labels(model, version, route),
        duration: this.metrics.requestDuration.labels(model, protocol),
      };
      this.series.set(cacheKey, series);
    }
    return series;
  }

  private successRecords(
    call: InferenceCall,
    manifest: ModelManifest,
    route: PredictionRoute,
    decoded: DecodedInputs,
    outputs: Map<string, Tensor>,
    ids: string[],
    latencyUs: number,
    batchSize: number,
  ): PredictionRecord[] {
    const now = Date.now();
    const rows = decoded.rows;
    const firstInput = decoded.inputs[0];
    const width = rows > 0 ? firstInput.data.length / rows : 0;
    const numericInput = !Array.isArray(firstInput.data) && decoded.inputs.length === 1;
    const primary = outputs.get(manifest.primary_output);
    const scoreWidth = primary && rows > 0 ? primary.data.length / rows : 0;
    const labels = manifest.label_output ? outputs.get(manifest.label_output) : undefined;
    const records: PredictionRecord[] = [];
    for (let r = 0; r < rows; r++) {
      const scores: number[] = [];
      if (primary && !Array.isArray(primary.data)) {
        for (let k = 0; k < scoreWidth; k++) scores.push(Number(primary.data[r * scoreWidth + k]));
      }
      let label = '';
      let value: number | null = null;
      if (manifest.task === 'classification') {
        let index = 0;
        if (labels) index = Number(labels.data[r]);
        else for (let k = 1; k < scores.length; k++) if (scores[k] > scores[index]) index = k;
        label = manifest.class_names?.[index] ?? String(index);
      } else if (manifest.task === 'regression') {
        value = scores[0] ?? null;
      }
      let inputs: LoggedFloats = [];
      if (numericInput && this.sink!.shouldLogInputs(width)) {
        // A view of the request's own tensor (decoded per request and never written to after
        // decoding; the writer copies it when it queues the record), or a converted copy for
        // other input types.
        const data = firstInput.data;
        if (data instanceof Float32Array) inputs = data.subarray(r * width, (r + 1) * width);
        else {
          const row = new Float32Array(width);
          for (let k = 0; k < width; k++) row[k] = Number(data[r * width + k]);
          inputs = row;
        }
      }
      records.push({
        id: ids[r],
        request_id: call.requestId,
        ts: now,
        model: manifest.name,
        model_version: manifest.version,
        route,
        client_id: call.clientId ?? '',
        trace_id: call.traceId ?? '',
        span_id: call.spanId ?? '',
        inputs,
        scores,
        label,
        value,
        latency_us: Math.round(latencyUs),
        batch_size: batchSize,
        status: 200,
        error: '',
        protocol: call.protocol,
      });
    }
    return records;
  }

  private failureRecord(
    call: InferenceCall,
    manifest: ModelManifest | undefined,
    route: PredictionRoute,
    status: number,
    error: string,
    started: bigint,
  ): PredictionRecord {
    return {
      id: randomUUID(),
      request_id: call.requestId,
      ts: Date.now(),
      model: manifest?.name ?? call.model.slice(0, 256),
      model_version: manifest?.version ?? call.version ?? 0,
      route,
      client_id: call.clientId ?? '',
      trace_id: call.traceId ?? '',
      span_id: call.spanId ?? '',
      inputs: [],
      scores: [],
      label: '',
      value: null,
      latency_us: Math.round(Number(process.hrtime.bigint() - started) / 1000),
      batch_size: 0,
      status,
      error: error.slice(0, 1000),
      protocol: call.protocol,
    };
  }
}
