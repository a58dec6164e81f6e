import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { createHash, randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { ArgusError, ConflictError, InvalidInputError, ModelNotFoundError } from '../common/errors';
import { ARGUS_CONFIG, ArgusConfig } from '../config';
import { OnnxRuntime, UnloadableModelError } from '../onnx/onnx-runtime';
import {
  assertAlias,
  assertModelName,
  deriveModelDescription,
  ModelAlias,
  ModelManifest,
  parseRegistrationMetadata,
} from './manifest';

export class ChecksumMismatchError extends ArgusError {
  constructor(name: string, version: number) {
    super(
      'unavailable',
      `model '${name}' version ${version}: model.onnx does not match the sha256 in its manifest`,
    );
  }
}

export interface ModelSummary {
  name: string;
  aliases: Partial<Record<ModelAlias, number>>;
  versions: ModelManifest[];
}

export interface RegisterOptions {
  alias?: ModelAlias;
  /**
   * Extra files stored with the version (for example `reference-sample.json` from training), by
   * file name. Names are plain file names; they are written atomically with the model.
   */
  artifacts?: Record<string, Uint8Array | string>;
}

const ARTIFACT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,100}$/;
const RESERVED_FILES = new Set(['model.onnx', 'manifest.json']);

type AliasFile = Partial<Record<ModelAlias, number>>;

/**
 * The model registry on disk: `ARGUS_HOME/models/<name>/<version>/{model.onnx,manifest.json}` and
 * `ARGUS_HOME/models/<name>/aliases.json`. Versions are immutable once written; every write goes to a
 * temporary file or directory first and is renamed into place, so a reader never sees half a model.
 *
 * The CLI and a running server share the directory. The server polls for changes made by other
 * processes (`watch`). Change handlers (inference's hot swap) are awaited, so an admin call returns
 * once a running server has loaded and switched to what it wrote.
 */
@Injectable()
export class ModelRegistry implements OnModuleDestroy {
  private readonly log = new Logger('registry');
  private readonly root: string;
  private watchTimer: NodeJS.Timeout | undefined;
  private lastSeen = new Map<string, string>();
  private readonly changeHandlers: Array<(name: string) => Promise<void>> = [];

  constructor(
    @Inject(ARGUS_CONFIG) config: Pick<ArgusConfig, 'home'>,
    private readonly runtime: OnnxRuntime,
  ) {
    this.root = join(config.home, 'models');
  }

  private modelDir(name: string): string {
    return join(this.root, name);
  }

  async register(
    name: string,
    bytes: Uint8Array,
    rawMetadata: unknown,
    options: RegisterOptions = {},
  ): Promise<ModelManifest> {
    assertModelName(name);
    if (options.alias !== undefined) assertAlias(options.alias);
    if (bytes.byteLength === 0) throw new InvalidInputError('the model file is empty');
    for (const file of Object.keys(options.artifacts ?? {})) {
      if (!ARTIFACT_NAME.test(file) || RESERVED_FILES.has(file)) {
        throw new InvalidInputError(`invalid artifact file name '${file}'`);
      }
    }
    const meta = parseRegistrationMetadata(rawMetadata);

    let session;
    try {
      session = await this.runtime.load(bytes);
    } catch (err) {
      if (err instanceof UnloadableModelError) throw new InvalidInputError(err.message);
      throw err;
    }
    const inputs = session.inputs;
    const outputs = session.outputs;
    await session.release();
    const description = deriveModelDescription(inputs, outputs, meta);

    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const dir = this.modelDir(name);
    await fs.mkdir(dir, { recursive: true });

    // Another process may register the same model at the same moment: the rename of a full
    // directory onto an existing version fails, and we take the next number.
    for (let attempt = 0; attempt < 20; attempt++) {
      // Numbers are never reused, even after a delete: logs and feedback name versions by number.
      const version =
        Math.max(await this.lastVersion(name), ...(await this.versionNumbers(name)), 0) + 1;
      const manifest: ModelManifest = {
        name,
        version,
        created_at: new Date().toISOString(),
        sha256,
        size_bytes: bytes.byteLength,
        ...description,
        inputs,
        outputs,
        batching: meta.batching ?? null,
        description: meta.description ?? '',
        metadata: meta.metadata ?? {},
        training: meta.training ?? null,
        lineage: {
          parent_version: null,
          training_job_id: null,
          dataset: null,
          metrics: null,
          gate: null,
          ...(meta.lineage ?? {}),
        },
      };
      const tmp = join(dir, `.tmp-${randomUUID()}`);
      await fs.mkdir(tmp);
      try {
        await writeDurably(join(tmp, 'model.onnx'), bytes);
        for (const [file, content] of Object.entries(options.artifacts ?? {})) {
          await writeDurably(join(tmp, file), content);
        }
        await writeDurably(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2));
        await fs.rename(tmp, join(dir, String(version)));
        await this.recordLastVersion(name, version);
      } catch (err) {
        await fs.rm(tmp, { recursive: true, force: true });
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOTEMPTY' || code === 'EEXIST') continue;
        throw err;
      }
      if (options.alias) await this.setAlias(name, options.alias, version);
      await this.notifyChanged(name);
      return manifest;
    }
    throw new ConflictError(
      `could not allocate a version for '${name}': too many concurrent registrations`,
    );
  }

  async listModels(): Promise<ModelSummary[]> {
    let names: string[];
    try {
      names = (await fs.readdir(this.root, { withFileTypes: true }))
        .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
        .map((d) => d.name)
        .sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: ModelSummary[] = [];
    for (const name of names) {
      const summary = await this.getModel(name).catch(() => undefined);
      if (summary && summary.versions.length > 0) out.push(summary);
    }
    return out;
  }

  async getModel(name: string): Promise<ModelSummary> {
    assertModelName(name);
    const versions = await this.versionNumbers(name);
    if (versions.length === 0) throw new ModelNotFoundError(name);
    const manifests: ModelManifest[] = [];
    for (const v of versions.sort((a, b) => a - b)) manifests.push(await this.getManifest(name, v));
    return { name, aliases: await this.readAliases(name), versions: manifests };
  }

  async getManifest(name: string, version: number): Promise<ModelManifest> {
    assertModelName(name);
    try {
      const raw = await fs.readFile(
        join(this.modelDir(name), String(version), 'manifest.json'),
        'utf8',
      );
      return JSON.parse(raw) as ModelManifest;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        throw new ModelNotFoundError(name, version);
      throw err;
    }
  }

  /** Reads the model bytes and checks them against the manifest's sha256. */
  async readModel(
    name: string,
    version: number,
  ): Promise<{ manifest: ModelManifest; bytes: Uint8Array }> {
    const manifest = await this.getManifest(name, version);
    const bytes = await fs.readFile(join(this.modelDir(name), String(version), 'model.onnx'));
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (sha !== manifest.sha256) throw new ChecksumMismatchError(name, version);
    return { manifest, bytes };
  }

  /** Reads an extra file stored with a version; undefined when the version has no such file. */
  async readArtifact(name: string, version: number, file: string): Promise<Buffer | undefined> {
    assertModelName(name);
    if (!ARTIFACT_NAME.test(file))
      throw new InvalidInputError(`invalid artifact file name '${file}'`);
    try {
      return await fs.readFile(join(this.modelDir(name), String(version), file));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async resolveAlias(name: string, alias: ModelAlias): Promise<number | undefined> {
    return (await this.readAliases(name))[alias];
  }

  async readAliases(name: string): Promise<AliasFile> {
    try {
      return JSON.parse(
        await fs.readFile(join(this.modelDir(name), 'aliases.json'), 'utf8'),
      ) as AliasFile;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw err;
    }
  }

  async setAlias(name: string, alias: string, version: number): Promise<AliasFile> {
    assertModelName(name);
    assertAlias(alias);
    await this.getManifest(name, version); // 404 for a version that does not exist
    const aliases = await this.readAliases(name);
    aliases[alias] = version;
    await writeDurably(join(this.modelDir(name), 'aliases.json'), JSON.stringify(aliases, null, 2));
    await this.notifyChanged(name);
    return aliases;
  }

  async deleteVersion(name: string, version: number): Promise<void> {
    await this.getManifest(name, version);
    const aliases = await this.readAliases(name);
    if (aliases.champion === version) {
      throw new ConflictError(
        `version ${version} is the champion of '${name}'; promote another version before deleting it`,
      );
    }
    let changed = false;
    for (const key of Object.keys(aliases) as ModelAlias[]) {
      if (aliases[key] === version) {
        delete aliases[key];
        changed = true;
      }
    }
    if (changed)
      await writeDurably(
        join(this.modelDir(name), 'aliases.json'),
        JSON.stringify(aliases, null, 2),
      );
    const trash = join(this.modelDir(name), `.deleted-${version}-${randomUUID()}`);
    await fs.rename(join(this.modelDir(name), String(version)), trash);
    await fs.rm(trash, { recursive: true, force: true });
    await this.notifyChanged(name);
  }

  private async lastVersion(name: string): Promise<number> {
    try {
      const n = Number(
        (await fs.readFile(join(this.modelDir(name), 'last-version'), 'utf8')).trim(),
      );
      return Number.isSafeInteger(n) && n > 0 ? n : 0;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
  }

  private async recordLastVersion(name: string, version: number): Promise<void> {
    const current = await this.lastVersion(name);
    if (version > current)
      await writeDurably(join(this.modelDir(name), 'last-version'), String(version));
  }

  private async versionNumbers(name: string): Promise<number[]> {
    try {
      return (await fs.readdir(this.modelDir(name)))
        .filter((d) => /^\d+$/.test(d))
        .map(Number)
        .sort((a, b) => a - b);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  /** Registers a handler run (and awaited) after every change to a model, local or polled. */
  onChange(handler: (name: string) => Promise<void>): void {
    this.changeHandlers.push(handler);
  }

  /** `polled`: the change was found by the poll, which has recorded its fingerprint already. */
  private async notifyChanged(name: string, polled = false): Promise<void> {
    if (this.watchTimer && !polled) {
      // A change made by this process is already known: record it, or a CLI change back to the
      // previous state before the next poll would look like no change at all and be missed.
      const summary = await this.getModel(name).catch(() => undefined);
      if (summary) this.lastSeen.set(name, changeFingerprint(summary));
      else this.lastSeen.delete(name);
    }
    for (const handler of this.changeHandlers) {
      try {
        await handler(name);
      } catch (err) {
        // The registry write succeeded; a runtime that cannot load the version reports that itself.
        this.log.error(`change handler for '${name}' failed: ${(err as Error).message}`);
      }
    }
  }

  /** Polls the directory for changes by other processes (the CLI) and emits `changed`. */
  watch(intervalMs = 1000): void {
    if (this.watchTimer) return;
    let initial = true;
    const tick = async () => {
      for (const summary of await this.listModels()) {
        const fingerprint = changeFingerprint(summary);
        if (this.lastSeen.get(summary.name) !== fingerprint) {
          this.lastSeen.set(summary.name, fingerprint);
          // The first poll only records what start-up already loaded; a model that appears
          // later (registered by the CLI) is new and must be loaded too.
          if (!initial) await this.notifyChanged(summary.name, true);
        }
      }
      initial = false;
    };
    void tick().catch(() => undefined);
    this.watchTimer = setInterval(() => {
      tick().catch((err: unknown) =>
        this.log.warn(`registry poll failed: ${(err as Error).message}`),
      );
    }, intervalMs);
    this.watchTimer.unref();
  }

  onModuleDestroy(): void {
    if (this.watchTimer) clearInterval(this.watchTimer);
  }

  /**
   * Adds a file next to an existing version after registration (the monitoring module's
   * `reference-profile.json`, built when the version first loads). The model and its manifest stay
   * immutable: reserved names are refused, and the write is atomic (temporary file + rename).
   */
  async writeArtifact(
    name: string,
    version: number,
    file: string,
    content: Uint8Array | string,
  ): Promise<void> {
    if (!ARTIFACT_NAME.test(file) || RESERVED_FILES.has(file)) {
      throw new InvalidInputError(`invalid artifact file name '${file}'`);
    }
    await this.getManifest(name, version); // 404 for a version that does not exist
    await writeDurably(join(this.modelDir(name), String(version), file), content);
  }
}

async function writeDurably(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp-${randomUUID()}`;
  const handle = await fs.open(tmp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(tmp, path);
}

/** What the registry poll compares to notice a change made by another process. */
function changeFingerprint(summary: ModelSummary): string {
  return JSON.stringify([summary.aliases, summary.versions.map((v) => v.version)]);
}
