import { Counter, Gauge, Registry } from 'prom-client';

/**
 * The prediction log's own numbers, kept as plain counters (readable in tests and by any
 * exporter) and mirrored into prom-client instruments once a Registry is attached.
 */
export type PredictionLogTable = 'predictions' | 'feedback';
export const PREDICTION_LOG_TABLES: readonly PredictionLogTable[] = ['predictions', 'feedback'];

/**
 * What became of a batch: `written` straight to the store, `replayed` from the spool to the store,
 * `spooled` to disk, `rejected` by the store as invalid (set aside under spool/rejected),
 * `dropped` because neither the store nor the disk took it.
 */
export type BatchOutcome = 'written' | 'replayed' | 'spooled' | 'rejected' | 'dropped';
export const BATCH_OUTCOMES: readonly BatchOutcome[] = [
  'written',
  'replayed',
  'spooled',
  'rejected',
  'dropped',
];

/** Kinds of spool damage found while replaying. */
export type SpoolDamage = 'crc_mismatch' | 'torn_tail' | 'missing_segment';

export interface PredictionLogTableCounters {
  /** Records the store acknowledged (direct writes and replays; a retried batch counts again). */
  recordsWritten: number;
  /** Store inserts that threw or timed out. */
  writeErrors: number;
  /** Records written to the spool. */
  recordsSpooled: number;
  /** Records lost: neither the store nor the spool accepted them. */
  recordsDropped: number;
  /** Records the store refused as invalid, set aside in the rejected spool. */
  recordsRejected: number;
  /** Disk errors of the spool (ENOSPC, EACCES, ...). */
  spoolErrors: number;
  batches: Record<BatchOutcome, number>;
  damage: Record<SpoolDamage, number>;
}

export interface PredictionLogGauges {
  /** Rows waiting in the in-memory queues. */
  queueRows: number;
  spoolBytes: number;
  spoolSegments: number;
  /** Age in seconds of the oldest spooled record the store has not acknowledged; 0 when none. */
  replayLagSeconds: number;
}

export interface PredictionLogMetricsSnapshot extends PredictionLogGauges {
  tables: Record<PredictionLogTable, PredictionLogTableCounters>;
}

type CounterField =
  | 'recordsWritten'
  | 'writeErrors'
  | 'recordsSpooled'
  | 'recordsDropped'
  | 'recordsRejected'
  | 'spoolErrors';

const COUNTER_METRICS: ReadonlyArray<{ field: CounterField; name: string; help: string }> = [
  {
    field: 'recordsWritten',
    name: 'argus_prediction_log_records_written_total',
    help: 'Records the analytical store acknowledged (direct and replayed).',
  },
  {
    field: 'writeErrors',
    name: 'argus_prediction_log_write_errors_total',
    help: 'Store inserts of the prediction log that failed or timed out.',
  },
  {
    field: 'recordsDropped',
    name: 'argus_prediction_log_dropped_total',
    help: 'Records lost because neither the store nor the spool accepted them.',
  },
  {
    field: 'recordsSpooled',
    name: 'argus_prediction_log_records_spooled_total',
    help: 'Records written to the on-disk spool.',
  },
  {
    field: 'recordsRejected',
    name: 'argus_prediction_log_records_rejected_total',
    help: 'Records the store refused as invalid, set aside under spool/rejected.',
  },
  {
    field: 'spoolErrors',
    name: 'argus_prediction_log_spool_errors_total',
    help: 'Disk errors of the prediction-log spool (ENOSPC, EACCES, ...).',
  },
];

function emptyTableCounters(): PredictionLogTableCounters {
  return {
    recordsWritten: 0,
    writeErrors: 0,
    recordsSpooled: 0,
    recordsDropped: 0,
    recordsRejected: 0,
    spoolErrors: 0,
    batches: { written: 0, replayed: 0, spooled: 0, rejected: 0, dropped: 0 },
    damage: { crc_mismatch: 0, torn_tail: 0, missing_segment: 0 },
  };
}

interface PromInstruments {
  counters: Map<CounterField, Counter<'table'>>;
  batches: Counter<'table' | 'outcome'>;
  damage: Counter<'table' | 'kind'>;
}

export class PredictionLogMetrics {
  private readonly tables: Record<PredictionLogTable, PredictionLogTableCounters> = {
    predictions: emptyTableCounters(),
    feedback: emptyTableCounters(),
  };
  private prom: PromInstruments | undefined;

  constructor(private readonly gauges: () => PredictionLogGauges) {}

  add(table: PredictionLogTable, field: CounterField, n = 1): void {
    if (n <= 0) return;
    this.tables[table][field] += n;
    this.prom?.counters.get(field)?.inc({ table }, n);
  }

  batch(table: PredictionLogTable, outcome: BatchOutcome): void {
    this.tables[table].batches[outcome]++;
    this.prom?.batches.inc({ table, outcome });
  }

  damage(table: PredictionLogTable, kind: SpoolDamage): void {
    this.tables[table].damage[kind]++;
    this.prom?.damage.inc({ table, kind });
  }

  snapshot(): PredictionLogMetricsSnapshot {
    const copy = (c: PredictionLogTableCounters): PredictionLogTableCounters => ({
      ...c,
      batches: { ...c.batches },
      damage: { ...c.damage },
    });
    return {
      ...this.gauges(),
      tables: { predictions: copy(this.tables.predictions), feedback: copy(this.tables.feedback) },
    };
  }

  /**
   * Registers the prediction-log series on `registry`. Counters start from the values counted so
   * far; gauges are read when scraped. Re-registering replaces this pipeline's earlier series.
   */
  register(registry: Registry): void {
    const replace = (name: string) => {
      if (registry.getSingleMetric(name)) registry.removeSingleMetric(name);
    };
    const counters = new Map<CounterField, Counter<'table'>>();
    for (const spec of COUNTER_METRICS) {
      replace(spec.name);
      const counter = new Counter({
        name: spec.name,
        help: spec.help,
        labelNames: ['table'] as const,
        registers: [registry],
      });
      for (const table of PREDICTION_LOG_TABLES) {
        counter.inc({ table }, this.tables[table][spec.field]);
      }
      counters.set(spec.field, counter);
    }
    replace('argus_prediction_log_batches_total');
    const batches = new Counter({
      name: 'argus_prediction_log_batches_total',
      help: 'Prediction-log batches by table and outcome (written, replayed, spooled, rejected, dropped).',
      labelNames: ['table', 'outcome'] as const,
      registers: [registry],
    });
    replace('argus_prediction_log_spool_damage_total');
    const damage = new Counter({
      name: 'argus_prediction_log_spool_damage_total',
      help: 'Damaged spool data skipped on replay, by kind (crc_mismatch, torn_tail, missing_segment).',
      labelNames: ['table', 'kind'] as const,
      registers: [registry],
    });
    for (const table of PREDICTION_LOG_TABLES) {
      for (const outcome of BATCH_OUTCOMES) {
        batches.inc({ table, outcome }, this.tables[table].batches[outcome]);
      }
      for (const kind of Object.keys(this.tables[table].damage) as SpoolDamage[]) {
        damage.inc({ table, kind }, this.tables[table].damage[kind]);
      }
    }

    const gauge = (name: string, help: string, read: (g: PredictionLogGauges) => number) => {
      replace(name);
      const gauges = this.gauges;
      new Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          this.set(read(gauges()));
        },
      });
    };
    gauge(
      'argus_prediction_log_queue_rows',
      'Prediction-log rows waiting in memory.',
      (g) => g.queueRows,
    );
    gauge(
      'argus_prediction_log_spool_bytes',
      'Bytes in the prediction-log spool.',
      (g) => g.spoolBytes,
    );
    gauge(
      'argus_prediction_log_spool_segments',
      'Segment files in the prediction-log spool.',
      (g) => g.spoolSegments,
    );
    gauge(
      'argus_prediction_log_replay_lag_seconds',
      'Age of the oldest spooled record the store has not acknowledged (0 when the spool is empty).',
      (g) => g.replayLagSeconds,
    );
    this.prom = { counters, batches, damage };
  }
}
