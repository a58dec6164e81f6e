import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import {
  ArgusError,
  ConflictError,
  errorMessage,
  InvalidInputError,
  NotFoundError,
} from '../../common/errors';
import { ModelManifest, RegistrationMetadata, assertModelName } from '../../registry/manifest';
import type { ModelRegistry } from '../../registry/model-registry';
import { OnnxRuntime, UnloadableModelError } from '../../onnx/onnx-runtime';
import type { AnalyticsStore, StoreEvent } from '../../store/analytics-store';
import { writeDatasetFiles } from '../datasets/dataset-files';
import { REFERENCE_LABELS_ARTIFACT, REFERENCE_SAMPLE_ARTIFACT } from '../datasets/log-dataset';
import { TrainingCancelledError } from '../errors';
import { defaultGateRule, EvaluationMetrics, GateRule, gateVerdict } from '../evaluation';
import type { Dataset } from '../trainers/dataset';
import { datasetRows } from '../trainers/dataset';
import type { EpochProgress } from '../trainers/dense-trainer';
import { resolveTrainingOptions } from '../trainers/dense-trainer';
import {
  referenceSampleIndices,
  shortestFloat32,
  TrainingMetadata,
  TrainingSpec,
  validateTrainingSpec,
} from '../train-model';
import { trainInWorker } from '../worker/train-in-worker';
import { runExternalCommand } from './external-command';
import { JobFiles } from './job-files';
import {
  isTerminal,
  JobGate,
  JobMetrics,
  JobOwner,
  JobStatus,
  JOB_STATUSES,
  TrainingJob,
} from './job-record';
import {
  parseTrainingJobSpec,
  splitCommandTemplate,
  storableTrainingSpec,
  substitutePlaceholders,
  TrainingJobSpec,
} from './job-spec';
import {
  planForManifest,
  planForSession,
  scoreOnnxModel,
  scoreSession,
  signatureMismatch,
} from './onnx-scoring';
import { prepareTrainingData, PreparedTrainingData } from './prepare-data';

/**
 * Training jobs, usable without HTTP (the HTTP controller, the CLI and the lifecycle policies all
 * call this): submit a spec for a model, follow its progress, cancel it. A job
 *
 * 1. is checked and its data loaded, split and described when it is submitted (a bad spec or an
 *    unusable data set is an InvalidInputError there, before any record exists);
 * 2. trains in a worker thread (built-in trainers) or a child process (external commands), so the
 *    serving event loop is never blocked;
 * 3. scores the candidate and the current champion with ONNX Runtime on the same held-out rows and
 *    applies the model's gate rule;
 * 4. registers the candidate as a new version — metrics, dataset manifest, parent version and gate
 *    verdict in its lineage, a reference sample (+ labels) as artifacts — without moving any alias:
 *    promotion is someone else's decision.
 *
 * One job per model at a time (a second is a ConflictError), across processes sharing ARGUS_HOME.
 * At most `maxConcurrentJobs` jobs train at once; the others wait `queued`. Records are JSON files
 * under `ARGUS_HOME/jobs/`, written atomically; a job whose process died is marked failed
 * ("interrupted by a restart") by the next service that looks at it.
 */
export interface TrainingJobServiceOptions {
  home: string;
  registry: ModelRegistry;
  runtime: OnnxRuntime;
  /** For prediction-log data sets and `training.*` events; optional (CLI without a store). */
  store?: AnalyticsStore | null;
  /** Jobs training at once; default 1 (training is CPU-bound and serving needs a core). */
  maxConcurrentJobs?: number;
  /** Job log lines kept per job; default 500. */
  maxLogLines?: number;
  logger?: JobLogger;
  now?: () => number;
}

export interface JobLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface JobListFilter {
  model?: string;
  status?: JobStatus;
  /** Newest first; default 100. */
  limit?: number;
}

export type JobListener = (job: TrainingJob) => void;

export const INTERRUPTED_REASON = 'interrupted by a restart';
const PERSIST_INTERVAL_MS = 500;
/** A live job's record is rewritten this often, so other processes can tell it is alive. */
const HEARTBEAT_INTERVAL_MS = 15_000;
export const HEARTBEAT_STALE_MS = 120_000;
/** Finished job records kept; older ones are deleted at start-up. */
export const MAX_KEPT_JOBS = 1000;
const MAX_MODEL_BYTES = 2 * 1024 * 1024 * 1024 - 1;

interface ActiveJob {
  job: TrainingJob;
  spec: TrainingJobSpec;
  data: PreparedTrainingData;
  champion: ModelManifest | null;
  controller: AbortController;
  stopReason: 'cancel' | 'shutdown' | null;
  done: Promise<TrainingJob>;
  finish: (job: TrainingJob) => void;
  writes: Promise<void>;
  flushTimer: NodeJS.Timeout | undefined;
  heartbeat: NodeJS.Timeout | undefined;
}

/** Service instances alive in this process: a job owned by this pid but none of these is orphaned. */
const LIVE_INSTANCES = new Set<string>();

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A job that is not finished but whose owner is gone: its service instance (same process), its
 * process (same host), or — whatever the host says, since a container's hostname and pid 1 may
 * belong to a new incarnation — its heartbeat stopped more than HEARTBEAT_STALE_MS ago.
 */
export function isOrphaned(job: TrainingJob, now = Date.now()): boolean {
  if (isTerminal(job.status)) return false;
  const owner = job.owner as Partial<JobOwner> | undefined;
  if (!owner || typeof owner.pid !== 'number') return true;
  if (owner.pid === process.pid && owner.host === hostname()) {
    return !LIVE_INSTANCES.has(String(owner.instance));
  }
  const beat = Date.parse(job.heartbeat_at ?? job.started_at ?? job.created_at);
  if (!(now - beat <= HEARTBEAT_STALE_MS)) return true;
  // Another machine sharing the directory: only its heartbeat can tell.
  if (owner.host !== undefined && owner.host !== hostname()) return false;
  return !processAlive(owner.pid);
}

function copy(job: TrainingJob): TrainingJob {
  return JSON.parse(JSON.stringify(job)) as TrainingJob;
}

function emptyLike(dataset: Dataset): Dataset {
  return dataset.task === 'classification'
    ? { ...dataset, features: new Float32Array(0), labels: new Int32Array(0) }
    : { ...dataset, features: new Float32Array(0), targets: new Float32Array(0) };
}

export class TrainingJobService {
  private readonly files: JobFiles;
  private readonly instance = randomUUID();
  private readonly owner: JobOwner;
  private readonly active = new Map<string, ActiveJob>();
  /** Models with a job being submitted or not finished in this service. */
  private readonly busyModels = new Set<string>();
  private readonly queue: ActiveJob[] = [];
  private running = 0;
  private readonly listeners = new Set<JobListener>();
  private readonly maxConcurrentJobs: number;
  private readonly maxLogLines: number;
  private readonly log: JobLogger;
  private readonly now: () => number;
  private closed = false;

  constructor(private readonly options: TrainingJobServiceOptions) {
    this.files = new JobFiles(options.home);
    this.owner = { pid: process.pid, host: hostname(), instance: this.instance };
    this.maxConcurrentJobs = Math.max(1, options.maxConcurrentJobs ?? 1);
    this.maxLogLines = Math.max(10, options.maxLogLines ?? 500);
    this.log = options.logger ?? {
      log: () => undefined,
      warn: () => undefined,
      error: () => undefined,
    };
    this.now = options.now ?? Date.now;
    LIVE_INSTANCES.add(this.instance);
  }

  /** Where job records live (`ARGUS_HOME/jobs`). */
  get directory(): string {
    return this.files.directory;
  }

  /**
   * Marks every job whose process is gone as failed ("interrupted by a restart") and removes
   * their scratch directories; deletes finished records beyond the newest MAX_KEPT_JOBS. Call once
   * at start-up; `get` and `list` mark orphaned jobs lazily too.
   */
  async start(): Promise<TrainingJob[]> {
    const recovered: TrainingJob[] = [];
    let finished = 0;
    for (const job of await this.files.readAll()) {
      if (isOrphaned(job)) recovered.push(await this.markInterrupted(job));
      // Newest first: past the limit, the oldest finished records go.
      else if (isTerminal(job.status) && ++finished > MAX_KEPT_JOBS)
        await this.files.remove(job.id);
    }
    for (const job of recovered) {
      this.log.warn(`training job ${job.id} for '${job.model}' was ${INTERRUPTED_REASON}`);
    }
    return recovered;
  }

  /**
   * Submits a job for `model`. With no spec (undefined, null or {}), the model's stored training
   * spec is used: its champion's manifest `training` field (the newest version's when there is no
   * champion). Resolves with the queued record once the data set is loaded and checked; throws
   * InvalidInputError for a bad spec or data set, ConflictError when the model has a job.
   */
  async submit(model: string, rawSpec?: unknown): Promise<TrainingJob> {
    if (this.closed) throw new ArgusError('unavailable', 'the training service is shutting down');
    assertModelName(model);
    if (this.busyModels.has(model)) throw this.conflict(model, this.activeJobOf(model));
    this.busyModels.add(model);
    let handedOver = false;
    try {
      const elsewhere = (await this.files.readAll()).find(
        (j) => j.model === model && !isTerminal(j.status) && !isOrphaned(j),
      );
      if (elsewhere) throw this.conflict(model, elsewhere);
      const champion = await this.championOf(model);
      const spec = parseTrainingJobSpec(await this.resolveSpec(model, rawSpec, champion));
      const data = await prepareTrainingData(spec, {
        model,
        champion,
        registry: this.options.registry,
        store: this.options.store ?? null,
        now: this.now(),
      });
      if (spec.kind !== 'external') validateTrainingSpec(this.workerSpec(model, spec, data));
      const active = this.createActive(model, spec, data, champion);
      this.active.set(active.job.id, active);
      handedOver = true;
      active.heartbeat = setInterval(() => {
        active.job.heartbeat_at = new Date(this.now()).toISOString();
        void this.persist(active, true);
      }, HEARTBEAT_INTERVAL_MS);
      active.heartbeat.unref();
      for (const note of data.notes) this.appendLog(active, note);
      await this.persist(active, true);
      this.emit(active.job);
      this.queue.push(active);
      this.pump();
      return copy(active.job);
    } finally {
      if (!handedOver) this.busyModels.delete(model);
    }
  }

  async get(id: string): Promise<TrainingJob> {
    const active = this.active.get(id);
    if (active) return copy(active.job);
    const job = await this.files.read(id);
    if (!job) throw new NotFoundError(`training job '${id}' not found`);
    return isOrphaned(job) ? this.markInterrupted(job) : job;
  }

  async list(filter: JobListFilter = {}): Promise<TrainingJob[]> {
    if (filter.status !== undefined && !JOB_STATUSES.includes(filter.status)) {
      throw new InvalidInputError(
        `unknown job status '${String(filter.status)}'; one of ${JOB_STATUSES.join(', ')}`,
      );
    }
    const limit = filter.limit ?? 100;
    const out: TrainingJob[] = [];
    for (const stored of await this.files.readAll()) {
      const active = this.active.get(stored.id);
      let job = active ? copy(active.job) : stored;
      if (!active && isOrphaned(job)) job = await this.markInterrupted(job);
      if (filter.model !== undefined && job.model !== filter.model) continue;
      if (filter.status !== undefined && job.status !== filter.status) continue;
      out.push(job);
      if (out.length >= limit) break;
    }
    return out;
  }

  /**
   * Cancels a queued or running job: a worker thread is terminated, an external command's process
   * group killed, nothing is registered. Resolves with the final record (`cancelled`, or
   * `succeeded` when the candidate was already being registered).
   */
  async cancel(id: string): Promise<TrainingJob> {
    const active = this.active.get(id);
    if (!active) {
      const job = await this.get(id);
      if (isTerminal(job.status)) {
        throw new ConflictError(
          `training job ${id} has already ${job.status === 'succeeded' ? 'succeeded' : `ended (${job.status})`}`,
        );
      }
      throw new ConflictError(
        `training job ${id} runs in another process (pid ${job.owner.pid}); cancel it there`,
      );
    }
    if (isTerminal(active.job.status)) {
      throw new ConflictError(`training job ${id} has already ended (${active.job.status})`);
    }
    this.stop(active, 'cancel');
    return copy(await active.done);
  }

  /** Resolves with the record once the job has ended (succeeded, failed or cancelled). */
  async wait(id: string, pollMs = 500): Promise<TrainingJob> {
    const active = this.active.get(id);
    if (active) return copy(await active.done);
    for (;;) {
      const job = await this.get(id);
      if (isTerminal(job.status)) return job;
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  /**
   * Called with a copy of the record on every change: queued, running, each epoch's progress,
   * ended. Returns a function that removes the listener.
   */
  onJobChange(listener: JobListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Stops every job of this service (they end failed, "interrupted by a restart": the process is
   * going away) and waits for their records to be written.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const pending = [...this.active.values()];
    for (const active of pending) this.stop(active, 'shutdown');
    await Promise.all(pending.map((a) => a.done.then(() => a.writes)));
    LIVE_INSTANCES.delete(this.instance);
  }

  // -------------------------------------------------------------------------------------------

  private conflict(model: string, job: TrainingJob | undefined): ConflictError {
    return new ConflictError(
      `model '${model}' already has a training job${job ? ` (${job.id}, ${job.status})` : ''}; one job at a time per model`,
    );
  }

  private activeJobOf(model: string): TrainingJob | undefined {
    for (const active of this.active.values()) if (active.job.model === model) return active.job;
    return undefined;
  }

  private async championOf(model: string): Promise<ModelManifest | null> {
    const version = await this.options.registry.resolveAlias(model, 'champion');
    if (version === undefined) return null;
    try {
      return await this.options.registry.getManifest(model, version);
    } catch {
      return null;
    }
  }

  private async resolveSpec(
    model: string,
    rawSpec: unknown,
    champion: ModelManifest | null,
  ): Promise<unknown> {
    const empty =
      rawSpec === undefined ||
      rawSpec === null ||
      (typeof rawSpec === 'object' && !Array.isArray(rawSpec) && Object.keys(rawSpec).length === 0);
    if (!empty) return rawSpec;
    let stored: Record<string, unknown> | null;
    let where: string;
    if (champion) {
      stored = champion.training;
      where = `its champion (version ${champion.version})`;
    } else {
      // No champion yet: the newest version speaks for the model.
      const summary = await this.options.registry.getModel(model).catch(() => null);
      if (!summary) {
        throw new InvalidInputError(
          `model '${model}' is not registered, so it has no stored training spec; send a spec`,
        );
      }
      const newest = summary.versions[summary.versions.length - 1];
      stored = newest?.training ?? null;
      where = `its newest version (${newest?.version})`;
    }
    if (!stored) {
      throw new InvalidInputError(
        `model '${model}' has no stored training spec: ${where} has no 'training' in its manifest; send a spec`,
      );
    }
    return stored;
  }

  private workerSpec(
    model: string,
    spec: TrainingJobSpec,
    data: PreparedTrainingData,
  ): TrainingSpec {
    if (spec.kind === 'external') throw new Error('external jobs have no worker spec');
    return {
      kind: spec.kind,
      modelName: model,
      train: data.parts.train,
      validation: data.parts.validation,
      test: data.parts.test,
      featureNames: data.featureNames,
      classNames: data.classNames,
      options: spec.options,
      // The job draws its own sample (with labels) in this thread; the worker need not.
      referenceSampleSize: 0,
    };
  }

  private createActive(
    model: string,
    spec: TrainingJobSpec,
    data: PreparedTrainingData,
    champion: ModelManifest | null,
  ): ActiveJob {
    const job: TrainingJob = {
      id: randomUUID(),
      model,
      kind: spec.kind,
      status: 'queued',
      progress: null,
      metrics: null,
      logs: [],
      logs_dropped: 0,
      error: null,
      candidate_version: null,
      parent_version: champion?.version ?? null,
      gate: null,
      dataset: data.manifest,
      spec: storableTrainingSpec(spec),
      created_at: new Date(this.now()).toISOString(),
      started_at: null,
      finished_at: null,
      heartbeat_at: new Date(this.now()).toISOString(),
      owner: this.owner,
    };
    let finish: (job: TrainingJob) => void = () => undefined;
    const done = new Promise<TrainingJob>((resolve) => (finish = resolve));
    return {
      job,
      spec,
      data,
      champion,
      controller: new AbortController(),
      stopReason: null,
      done,
      finish,
      writes: Promise.resolve(),
      flushTimer: undefined,
      heartbeat: undefined,
    };
  }

  private pump(): void {
    while (this.running < this.maxConcurrentJobs && this.queue.length > 0) {
      const next = this.queue.shift() as ActiveJob;
      this.running++;
      void this.run(next).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  private stop(active: ActiveJob, reason: 'cancel' | 'shutdown'): void {
    if (isTerminal(active.job.status) || active.stopReason) return;
    active.stopReason = reason;
    const queued = this.queue.indexOf(active);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      void this.end(active, new TrainingCancelledError());
      return;
    }
    active.controller.abort();
  }

  private appendLog(active: ActiveJob, line: string): void {
    const job = active.job;
    job.logs.push(`${new Date(this.now()).toISOString()} ${line}`);
    const excess = job.logs.length - this.maxLogLines;
    if (excess > 0) {
      job.logs.splice(0, excess);
      job.logs_dropped += excess;
    }
  }

  /** Writes the record now (`immediate`) or within PERSIST_INTERVAL_MS (progress updates). */
  private persist(active: ActiveJob, immediate: boolean): Promise<void> {
    if (!immediate) {
      active.flushTimer ??= setTimeout(() => {
        active.flushTimer = undefined;
        void this.persist(active, true);
      }, PERSIST_INTERVAL_MS);
      active.flushTimer.unref();
      return Promise.resolve();
    }
    if (active.flushTimer) {
      clearTimeout(active.flushTimer);
      active.flushTimer = undefined;
    }
    const snapshot = copy(active.job);
    active.writes = active.writes
      .then(() => this.files.write(snapshot))
      .catch((err: unknown) =>
        this.log.error(`cannot write training job ${snapshot.id}: ${errorMessage(err)}`),
      );
    return active.writes;
  }

  private emit(job: TrainingJob): void {
    for (const listener of this.listeners) {
      try {
        listener(copy(job));
      } catch (err) {
        this.log.error(`a training job listener failed: ${errorMessage(err)}`);
      }
    }
  }

  private async event(
    type: string,
    job: TrainingJob,
    severity: StoreEvent['severity'],
    details: Record<string, unknown>,
  ): Promise<void> {
    const store = this.options.store;
    if (!store) return;
    try {
      await store.insertEvents([
        {
          ts: this.now(),
          type,
          model: job.model,
          model_version: job.candidate_version ?? 0,
          severity,
          details: { job_id: job.id, kind: job.kind, ...details },
        },
      ]);
    } catch (err) {
      // Events are an audit trail; a store outage must not fail the job itself.
      this.log.warn(`could not record ${type} for job ${job.id}: ${errorMessage(err)}`);
    }
  }

  private async markInterrupted(job: TrainingJob): Promise<TrainingJob> {
    const updated: TrainingJob = {
      ...job,
      status: 'failed',
      error: `${INTERRUPTED_REASON}: the process running it (pid ${job.owner?.pid ?? '?'}) ended before the job finished`,
      finished_at: new Date(this.now()).toISOString(),
    };
    await this.files.write(updated);
    await this.files.removeWorkDirectory(job.id);
    return updated;
  }

  private throwIfStopped(active: ActiveJob): void {
    if (active.controller.signal.aborted) throw new TrainingCancelledError();
  }

  private async run(active: ActiveJob): Promise<void> {
    if (active.stopReason) {
      await this.end(active, new TrainingCancelledError());
      return;
    }
    const { job, spec, data } = active;
    job.status = 'running';
    job.started_at = new Date(this.now()).toISOString();
    const split = data.manifest.split;
    this.appendLog(
      active,
      `training ${spec.kind} on ${data.manifest.rows} rows (train ${split?.train}, validation ${split?.validation}, test ${split?.test})`,
    );
    await this.persist(active, true);
    this.emit(job);
    await this.event('training.started', job, 'info', {
      rows: data.manifest.rows,
      dataset_sha256: data.manifest.content_sha256,
    });
    try {
      let bytes: Uint8Array;
      let validation: EvaluationMetrics | null = null;
      let trainer: TrainingMetadata | null = null;
      if (spec.kind === 'external') {
        bytes = await this.runExternal(active);
      } else {
        const result = await trainInWorker(
          this.workerSpec(job.model, spec, data),
          (progress) => this.onProgress(active, progress),
          active.controller.signal,
        );
        bytes = result.onnx;
        validation = result.metrics.validation;
        trainer = result.metadata;
      }
      this.throwIfStopped(active);
      await this.evaluateAndRegister(active, bytes, validation, trainer);
      await this.end(active, null);
    } catch (err) {
      await this.end(active, err);
    }
  }

  private onProgress(active: ActiveJob, progress: EpochProgress): void {
    active.job.progress = {
      epoch: progress.epoch,
      maxEpochs: progress.maxEpochs,
      loss: progress.trainLoss,
      validationMetric: progress.validationMetric,
      metricName: progress.metricName,
    };
    const metric =
      progress.validationMetric === null
        ? ''
        : `, validation ${progress.metricName} ${progress.validationMetric.toPrecision(4)}`;
    this.appendLog(
      active,
      `epoch ${progress.epoch}/${progress.maxEpochs}: loss ${progress.trainLoss.toPrecision(4)}${metric}`,
    );
    void this.persist(active, false);
    this.emit(active.job);
  }

  /** Runs the external command on files of the split; returns the model bytes it wrote. */
  private async runExternal(active: ActiveJob): Promise<Uint8Array> {
    const { job, data } = active;
    const external = active.spec.external;
    if (!external) throw new Error('not an external job');
    const directory = this.files.workDirectory(job.id);
    await fs.mkdir(directory, { recursive: true });
    const modelPath = join(directory, 'model.onnx');
    const written = await writeDatasetFiles({
      directory,
      parts: { train: data.parts.train, val: data.parts.validation ?? emptyLike(data.parts.train) },
      featureNames: data.featureNames,
      target: data.targetName,
      classNames: data.classNames,
      modelPath,
      expected: active.champion
        ? { inputs: active.champion.inputs, outputs: active.champion.outputs }
        : undefined,
    });
    const values: Record<string, string> = {
      train: written.parts.train.csv,
      val: written.parts.val.csv,
      train_jsonl: written.parts.train.jsonl,
      val_jsonl: written.parts.val.jsonl,
      schema: written.schema,
      model: modelPath,
      workdir: directory,
    };
    const argv = substitutePlaceholders(splitCommandTemplate(external.command), values);
    this.appendLog(active, `running ${JSON.stringify(argv)} (timeout ${external.timeout_s} s)`);
    void this.persist(active, false);
    let lastStderr = '';
    const result = await runExternalCommand({
      argv,
      cwd: external.cwd ?? undefined,
      env: {
        ...process.env,
        ARGUS_TRAIN_CSV: values.train,
        ARGUS_VAL_CSV: values.val,
        ARGUS_TRAIN_JSONL: values.train_jsonl,
        ARGUS_VAL_JSONL: values.val_jsonl,
        ARGUS_SCHEMA: values.schema,
        ARGUS_MODEL_OUT: modelPath,
      },
      timeoutMs: external.timeout_s * 1000,
      signal: active.controller.signal,
      onLine: (stream, line) => {
        if (stream === 'stderr' && line.trim() !== '') lastStderr = line;
        this.appendLog(active, `[${stream}] ${line}`);
        void this.persist(active, false);
      },
    });
    if (result.cancelled) throw new TrainingCancelledError();
    if (result.timedOut) {
      throw new Error(
        `the command did not finish within ${external.timeout_s} s and was killed (with its process group)`,
      );
    }
    if (result.exitCode !== 0) {
      const how =
        result.exitCode !== null
          ? `exited with code ${result.exitCode}`
          : `was killed by ${result.exitSignal}`;
      throw new Error(`the command ${how}${lastStderr ? `: ${lastStderr}` : ''}`);
    }
    let size: number;
    try {
      size = (await fs.stat(modelPath)).size;
    } catch {
      throw new Error(`the command exited 0 but wrote no model file at {model} (${modelPath})`);
    }
    if (size === 0) throw new Error('the command wrote an empty model file');
    if (size > MAX_MODEL_BYTES)
      throw new Error(`the command wrote a ${size}-byte model, over 2 GiB`);
    this.appendLog(active, `the command wrote ${size} bytes`);
    return new Uint8Array(await fs.readFile(modelPath));
  }

  private async evaluateAndRegister(
    active: ActiveJob,
    bytes: Uint8Array,
    validation: EvaluationMetrics | null,
    trainer: TrainingMetadata | null,
  ): Promise<void> {
    const { job, spec, data, champion } = active;
    const { runtime, registry } = this.options;
    const shape = {
      task: data.task,
      featureCount: data.featureNames.length,
      featureNames: data.featureNames,
      classNames: data.classNames,
      targetCount: 1,
    };
    const test = data.parts.test;

    let session;
    try {
      session = await runtime.load(bytes);
    } catch (err) {
      if (err instanceof UnloadableModelError) {
        // err.message reads "not a loadable ONNX model: <why>".
        throw new Error(
          `${spec.kind === 'external' ? "the command's output" : 'the trained model'} is ${err.message}`,
        );
      }
      throw err;
    }
    let candidate: EvaluationMetrics;
    let mismatch: string | null;
    try {
      mismatch = champion ? signatureMismatch(session, champion) : null;
      if (spec.kind === 'external' && mismatch) {
        throw new Error(`the model's signature does not match the champion's: ${mismatch}`);
      }
      const plan = planForSession(session, shape, data.featureNames);
      if (!plan.ok) {
        throw new Error(`the model does not fit the declared features and classes: ${plan.reason}`);
      }
      try {
        candidate = await scoreSession(session, plan.plan, test);
      } catch (err) {
        throw new Error(`the model failed on the held-out rows: ${errorMessage(err)}`);
      }
    } finally {
      await session.release();
    }
    this.throwIfStopped(active);

    let championMetrics: EvaluationMetrics | null = null;
    let incomparable: string | null = null;
    if (champion) {
      const plan = planForManifest(champion, shape);
      if (!plan.ok) incomparable = plan.reason;
      else if (mismatch) incomparable = `the candidate's signature differs: ${mismatch}`;
      else {
        try {
          const { bytes: championBytes } = await registry.readModel(
            champion.name,
            champion.version,
          );
          championMetrics = await scoreOnnxModel(runtime, championBytes, plan.plan, test);
        } catch (err) {
          incomparable = `it could not be scored: ${errorMessage(err)}`;
        }
      }
    }
    const rule: GateRule = { ...defaultGateRule(data.task), ...spec.gate };
    let verdict = gateVerdict(candidate, championMetrics, rule);
    if (champion && incomparable) {
      // Promoting a model the champion's clients cannot call, or that was never compared, is not
      // a decision a gate can wave through.
      verdict = {
        ...verdict,
        passed: false,
        reason: `champion version ${champion.version} is not comparable with the candidate: ${incomparable}`,
      };
    }
    const gate: JobGate = { ...verdict, rule, champion_version: champion?.version ?? null };
    const metrics: JobMetrics = { candidate, champion: championMetrics, validation };
    job.metrics = metrics;
    job.gate = gate;
    this.appendLog(active, `gate ${gate.passed ? 'passed' : 'failed'}: ${gate.reason}`);
    this.throwIfStopped(active);

    const { sample, labels } = this.referenceRows(active);
    const metadata: RegistrationMetadata = {
      task: data.task,
      feature_names: data.featureNames,
      ...(data.classNames ? { class_names: data.classNames } : {}),
      ...(champion && spec.kind === 'external'
        ? {
            primary_output: champion.primary_output,
            ...(champion.label_output ? { label_output: champion.label_output } : {}),
          }
        : {}),
      ...(champion?.batching ? { batching: champion.batching } : {}),
      description: `trained by Argus training job ${job.id} (${spec.kind})`,
      metadata: {
        trained_by: 'argus',
        training_job_id: job.id,
        trainer: trainer ?? { trainer: 'external', command: spec.external?.command ?? null },
      },
      training: storableTrainingSpec(spec),
      lineage: {
        parent_version: champion?.version ?? null,
        training_job_id: job.id,
        dataset: { ...data.manifest },
        metrics: { ...metrics },
        gate: { ...gate },
      },
    };
    const manifest = await registry.register(job.model, bytes, metadata, {
      artifacts: {
        [REFERENCE_SAMPLE_ARTIFACT]: JSON.stringify(sample),
        [REFERENCE_LABELS_ARTIFACT]: JSON.stringify(labels),
      },
    });
    job.candidate_version = manifest.version;
    this.appendLog(active, `registered '${job.model}' version ${manifest.version} (not promoted)`);
  }

  /** A seeded sample of the training rows with their labels (class names or values). */
  private referenceRows(active: ActiveJob): { sample: number[][]; labels: Array<string | number> } {
    const train = active.data.referenceRows;
    const seed =
      active.spec.kind === 'external'
        ? active.spec.split.seed
        : resolveTrainingOptions(active.spec.options).seed;
    const indices = referenceSampleIndices(
      datasetRows(train),
      active.spec.reference_sample_size,
      seed,
    );
    const sample: number[][] = [];
    const labels: Array<string | number> = [];
    const width = train.featureCount;
    for (const row of indices) {
      const values = new Array<number>(width);
      for (let j = 0; j < width; j++) values[j] = shortestFloat32(train.features[row * width + j]);
      sample.push(values);
      labels.push(
        train.task === 'classification'
          ? (active.data.classNames?.[train.labels[row]] ?? String(train.labels[row]))
          : shortestFloat32(train.targets[row * train.targetCount]),
      );
    }
    return { sample, labels };
  }

  /** Records the outcome: succeeded (`error` null), cancelled, or failed. */
  private async end(active: ActiveJob, error: unknown): Promise<void> {
    const { job } = active;
    const stoppedByShutdown = active.stopReason === 'shutdown';
    const cancelled =
      !stoppedByShutdown &&
      error !== null &&
      (error instanceof TrainingCancelledError || active.stopReason === 'cancel');
    if (error === null) {
      job.status = 'succeeded';
    } else if (cancelled) {
      job.status = 'cancelled';
      job.error = 'cancelled';
      this.appendLog(active, 'cancelled; nothing registered');
    } else {
      job.status = 'failed';
      job.error = stoppedByShutdown
        ? `${INTERRUPTED_REASON}: the service shut down while the job was ${job.started_at ? 'running' : 'queued'}`
        : errorMessage(error);
      this.appendLog(active, `failed: ${job.error}`);
    }
    job.finished_at = new Date(this.now()).toISOString();
    if (active.heartbeat) clearInterval(active.heartbeat);
    await this.files.removeWorkDirectory(job.id).catch(() => undefined);
    await this.persist(active, true);
    this.active.delete(job.id);
    this.busyModels.delete(job.model);
    this.emit(job);
    if (job.status === 'succeeded') {
      await this.event('training.finished', job, job.gate?.passed === false ? 'warning' : 'info', {
        candidate_version: job.candidate_version,
        parent_version: job.parent_version,
        gate_passed: job.gate?.passed ?? null,
        gate_reason: job.gate?.reason ?? null,
        metrics: job.metrics?.candidate ?? null,
      });
    } else if (job.status === 'cancelled') {
      await this.event('training.cancelled', job, 'info', {});
    } else {
      await this.event('training.failed', job, 'warning', { error: job.error });
    }
    if (job.status === 'failed')
      this.log.warn(`training job ${job.id} for '${job.model}' failed: ${job.error}`);
    active.finish(copy(job));
  }
}
