import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { ModelNotFoundError, ModelNotReadyError } from '../common/errors';
import { ARGUS_CONFIG, ArgusConfig } from '../config';
import { OnnxRuntime } from '../onnx/onnx-runtime';
import { ALIASES, ModelAlias, ModelManifest } from '../registry/manifest';
import { ModelRegistry } from '../registry/model-registry';
import { PredictionRoute } from '../predictions/prediction-record';
import { ArgusMetrics } from '../telemetry/metrics';
import { BatchPolicy } from './batching';
import { LoadedModel } from './loaded-model';

export interface ResolvedModel {
  model: LoadedModel;
  route: PredictionRoute;
}

/** How long a version that lost its alias stays loaded, so requests already routed to it finish. */
const RETIRE_GRACE_MS = 2000;

/**
 * Keeps ONNX Runtime sessions for the versions that aliases point at, and answers "which loaded
 * version serves this request". Promotion is load-then-switch: the new version is loaded and
 * warmed while the old one keeps serving, then the routing entry flips in one assignment, and
 * the old version is released only once nothing is queued or running on it.
 */
@Injectable()
export class ModelRuntime implements OnApplicationShutdown {
  private readonly log = new Logger('runtime');
  /** name → alias → loaded version. */
  private readonly routes = new Map<string, Map<ModelAlias, LoadedModel>>();
  /** `name@version` → loaded (or loading) version, shared by aliases and pinned requests. */
  private readonly loaded = new Map<string, Promise<LoadedModel>>();
  private readonly reconciling = new Map<string, Promise<void>>();
  /** Versions loaded and warm (aliased or pinned). */
  private readonly readyKeys = new Set<string>();
  private startupDone = false;
  private startupFailures: string[] = [];

  constructor(
    @Inject(ARGUS_CONFIG) private readonly config: ArgusConfig,
    private readonly registry: ModelRegistry,
    private readonly onnx: OnnxRuntime,
    private readonly metrics: ArgusMetrics,
  ) {
    this.registry.onChange((name) => this.reconcile(name));
    this.metrics.setQueueProbe(() => this.queueDepths());
  }

  /** Loads every aliased version; readiness turns true when all champions are warm. */
  async start(): Promise<void> {
    const models = await this.registry.listModels();
    await Promise.all(models.map((m) => this.reconcile(m.name)));
    this.startupDone = true;
    this.registry.watch();
  }

  get ready(): boolean {
    if (!this.startupDone) return false;
    return this.startupFailures.length === 0;
  }

  get notReadyReasons(): string[] {
    return this.startupDone ? this.startupFailures : ['models are still loading'];
  }

  isModelReady(name: string, version?: number): boolean {
    const aliases = this.routes.get(name);
    if (version === undefined) return aliases?.get('champion') !== undefined;
    return this.readyKeys.has(`${name}@${version}`);
  }

  /**
   * The loaded version that serves a request, when it is already known without I/O (the champion,
   * or a pinned version an alias points at); undefined otherwise — then call `resolve`.
   */
  resolveLoaded(name: string, version?: number): ResolvedModel | undefined {
    const aliases = this.routes.get(name);
    if (!aliases) return undefined;
    if (version === undefined) {
      const champion = aliases.get('champion');
      return champion ? { model: champion, route: 'champion' } : undefined;
    }
    for (const m of aliases.values())
      if (m.version === version) return { model: m, route: 'pinned' };
    return undefined;
  }

  /** Resolves a request to a loaded version: a pinned version, or the champion. */
  async resolve(name: string, version?: number): Promise<ResolvedModel> {
    if (version !== undefined) {
      const aliased = [...(this.routes.get(name)?.values() ?? [])].find(
        (m) => m.version === version,
      );
      if (aliased) return { model: aliased, route: 'pinned' };
      const manifest = await this.registry.getManifest(name, version); // 404 when it does not exist
      return { model: await this.load(manifest), route: 'pinned' };
    }
    const champion = this.routes.get(name)?.get('champion');
    if (champion) return { model: champion, route: 'champion' };
    const summary = await this.registry.getModel(name).catch((err: unknown) => {
      if (err instanceof ModelNotFoundError) throw err;
      throw err;
    });
    if (summary.aliases.champion !== undefined) {
      throw new ModelNotReadyError(name, summary.aliases.champion);
    }
    // No champion yet: serve the newest version, as a KServe server picks "by its own policy".
    const latest = summary.versions[summary.versions.length - 1];
    return { model: await this.load(latest), route: 'champion' };
  }

  /** Rows waiting per loaded version (aliased and pinned). */
  queueDepths(): Array<{ model: string; version: string; rows: number }> {
    const out = new Map<string, { model: string; version: string; rows: number }>();
    for (const table of this.routes.values()) {
      for (const m of table.values()) {
        out.set(m.key, { model: m.name, version: String(m.version), rows: m.batcher.pendingRows });
      }
    }
    return [...out.values()];
  }

  /** Versions currently loaded, with the aliases that point at them. */
  loadedVersions(): Array<{ name: string; version: number; aliases: ModelAlias[] }> {
    const out = new Map<string, { name: string; version: number; aliases: ModelAlias[] }>();
    for (const [name, aliases] of this.routes) {
      for (const [alias, m] of aliases) {
        const entry = out.get(m.key) ?? { name, version: m.version, aliases: [] };
        entry.aliases.push(alias);
        out.set(m.key, entry);
      }
    }
    return [...out.values()];
  }

  private policyFor(manifest: ModelManifest): BatchPolicy {
    const b = this.config.batching;
    return {
      maxBatchSize: manifest.batching?.max_batch_size ?? b.maxBatchSize,
      maxQueueDelayMicros: manifest.batching?.max_queue_delay_us ?? b.maxQueueDelayMicros,
      maxQueueRows: manifest.batching?.max_queue_rows ?? b.maxQueueRows,
    };
  }

  private load(manifest: ModelManifest): Promise<LoadedModel> {
    const key = `${manifest.name}@${manifest.version}`;
    const existing = this.loaded.get(key);
    if (existing) return existing;
    const loading = this.loadNow(manifest);
    this.loaded.set(key, loading);
    loading.then(() => this.readyKeys.add(key)).catch(() => undefined);
    loading.catch(() => this.loaded.delete(key));
    return loading;
  }

  private async loadNow(manifest: ModelManifest): Promise<LoadedModel> {
    const started = process.hrtime.bigint();
    const labels = { model: manifest.name, version: String(manifest.version) };
    try {
      const { bytes } = await this.registry.readModel(manifest.name, manifest.version);
      const session = await this.onnx.load(bytes);
      const policy = this.policyFor(manifest);
      // Series bound once per version: prom-client hashes the label set on every labelled call.
      const batchSize = this.metrics.batchSize.labels(labels);
      const batchRequests = this.metrics.batchRequests.labels(labels);
      const queueWait = this.metrics.queueWait.labels(labels);
      const inferenceDuration = this.metrics.inferenceDuration.labels(labels);
      const model = new LoadedModel(manifest, session, policy, {
        onBatch: (report) => {
          batchSize.observe(report.rows);
          batchRequests.observe(report.requests);
          for (const w of report.queueWaitMicros) queueWait.observe(w / 1e6);
        },
        onRun: (seconds) => inferenceDuration.observe(seconds),
      });
      await model.warmUp(policy.maxBatchSize);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.metrics.modelLoadDuration.observe({ model: manifest.name }, seconds);
      this.log.log(
        `loaded ${model.key} in ${(seconds * 1000).toFixed(0)} ms (batching ${model.batchable && policy.maxBatchSize > 1 ? `up to ${policy.maxBatchSize} rows` : 'off'})`,
      );
      return model;
    } catch (err) {
      this.metrics.modelLoadFailures.inc({ model: manifest.name });
      throw err;
    }
  }

  /** Brings the routing table of one model in line with its aliases on disk. */
  reconcile(name: string): Promise<void> {
    // Serialise per model so two quick promotions apply in order.
    const previous = this.reconciling.get(name) ?? Promise.resolve();
    const next = previous.then(() => this.reconcileNow(name));
    this.reconciling.set(
      name,
      next.catch(() => undefined),
    );
    return next;
  }

  private async reconcileNow(name: string): Promise<void> {
    let aliases: Partial<Record<ModelAlias, number>>;
    try {
      aliases = (await this.registry.getModel(name)).aliases;
    } catch (err) {
      if (!(err instanceof ModelNotFoundError)) throw err;
      aliases = {};
    }
    const table = this.routes.get(name) ?? new Map<ModelAlias, LoadedModel>();
    const previous = new Set(table.values());
    const failures: string[] = [];
    for (const alias of ALIASES) {
      const version = aliases[alias];
      if (version === undefined) {
        table.delete(alias);
        continue;
      }
      if (table.get(alias)?.version === version) continue;
      try {
        const manifest = await this.registry.getManifest(name, version);
        table.set(alias, await this.load(manifest));
      } catch (err) {
        const msg = `${name} ${alias} → version ${version}: ${(err as Error).message}`;
        this.log.error(`could not load ${msg}`);
        if (alias === 'champion') failures.push(msg);
      }
    }
    this.routes.set(name, table);
    this.startupFailures = this.startupFailures
      .filter((f) => !f.startsWith(`${name} `))
      .concat(failures);
    this.publishModelInfo();

    const stillUsed = new Set(table.values());
    for (const old of previous) if (!stillUsed.has(old)) this.retire(old);
  }

  private retire(model: LoadedModel): void {
    setTimeout(() => {
      void (async () => {
        if ([...this.routes.values()].some((t) => [...t.values()].includes(model))) return;
        // Forget it first: a promotion back to this version while it drains loads a fresh session
        // instead of reusing one about to be released.
        this.loaded.delete(model.key);
        this.readyKeys.delete(model.key);
        await model.batcher.drained();
        while (model.inFlight > 0) await new Promise((r) => setTimeout(r, 10));
        await model.release();
        this.log.log(`released ${model.key}`);
      })().catch((err: unknown) =>
        this.log.warn(`release of ${model.key} failed: ${(err as Error).message}`),
      );
    }, RETIRE_GRACE_MS).unref();
  }

  private publishModelInfo(): void {
    this.metrics.modelInfo.reset();
    for (const v of this.loadedVersions()) {
      for (const alias of v.aliases) {
        this.metrics.modelInfo.set({ model: v.name, version: String(v.version), alias }, 1);
      }
    }
  }

  async onApplicationShutdown(): Promise<void> {
    for (const p of this.loaded.values()) {
      const m = await p.catch(() => undefined);
      if (m) {
        await m.batcher.drained();
        await m.release();
      }
    }
    this.loaded.clear();
  }
}
