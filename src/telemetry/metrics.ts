import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Every Prometheus series Argus exports, in one place so dashboards and alert rules have one
 * source of truth (docs/metrics.md lists them). Labels are bounded: model and version come from
 * the registry (unknown model names are reported as model=""), never request or prediction ids.
 */
const LATENCY_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

@Injectable()
export class ArgusMetrics {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: 'argus_requests_total',
    help: 'Inference requests by model, version, route, protocol and HTTP status.',
    labelNames: ['model', 'version', 'route', 'protocol', 'status'] as const,
    registers: [this.registry],
  });

  readonly requestDuration = new Histogram({
    name: 'argus_request_duration_seconds',
    help: 'Inference request duration from decoded request to encoded response.',
    labelNames: ['model', 'protocol'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly inferenceDuration = new Histogram({
    name: 'argus_inference_duration_seconds',
    help: 'ONNX Runtime session.run duration per executed batch.',
    labelNames: ['model', 'version'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly batchSize = new Histogram({
    name: 'argus_batch_size_rows',
    help: 'Rows per executed batch (dynamic batching merges concurrent requests).',
    labelNames: ['model', 'version'] as const,
    buckets: BATCH_BUCKETS,
    registers: [this.registry],
  });

  readonly batchRequests = new Histogram({
    name: 'argus_batch_requests',
    help: 'Requests merged into each executed batch.',
    labelNames: ['model', 'version'] as const,
    buckets: BATCH_BUCKETS,
    registers: [this.registry],
  });

  readonly queueWait = new Histogram({
    name: 'argus_queue_wait_seconds',
    help: 'Time a request waited in the batching queue before its batch started.',
    labelNames: ['model', 'version'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  private queueProbe: (() => Array<{ model: string; version: string; rows: number }>) | undefined;

  readonly queueRows: Gauge<'model' | 'version'> = new Gauge({
    name: 'argus_queue_rows',
    help: 'Rows waiting in the batching queue.',
    labelNames: ['model', 'version'] as const,
    registers: [this.registry],
    // Read at scrape time: the queue changes per request, the gauge only matters when scraped.
    collect: () => {
      if (!this.queueProbe) return;
      this.queueRows.reset();
      for (const q of this.queueProbe())
        this.queueRows.set({ model: q.model, version: q.version }, q.rows);
    },
  });

  readonly predictedRows = new Counter({
    name: 'argus_predicted_rows_total',
    help: 'Rows predicted successfully.',
    labelNames: ['model', 'version', 'route'] as const,
    registers: [this.registry],
  });

  readonly modelInfo = new Gauge({
    name: 'argus_model_info',
    help: 'Loaded model versions and the aliases pointing at them (value 1).',
    labelNames: ['model', 'version', 'alias'] as const,
    registers: [this.registry],
  });

  readonly modelLoadDuration = new Histogram({
    name: 'argus_model_load_duration_seconds',
    help: 'Time to load and warm a model version.',
    labelNames: ['model'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });

  readonly modelLoadFailures = new Counter({
    name: 'argus_model_load_failures_total',
    help: 'Model versions that failed to load (corrupt file, checksum mismatch, runtime error).',
    labelNames: ['model'] as const,
    registers: [this.registry],
  });

  readonly rejectedRequests = new Counter({
    name: 'argus_rejected_requests_total',
    help: 'Requests rejected before inference, by reason (invalid, overloaded, not_found, ...).',
    labelNames: ['protocol', 'reason'] as const,
    registers: [this.registry],
  });

  /** The runtime tells the metrics how to read its queues. */
  setQueueProbe(probe: () => Array<{ model: string; version: string; rows: number }>): void {
    this.queueProbe = probe;
  }

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
