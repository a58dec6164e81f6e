import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConflictError, InvalidInputError, errorMessage } from '../common/errors';
import { OnnxRuntime } from '../onnx/onnx-runtime';
import { ModelManifest } from '../registry/manifest';
import { ModelRegistry } from '../registry/model-registry';
import { ANALYTICS_STORE, AnalyticsStore } from '../store/analytics-store';
import { ARGUS_CONFIG, ArgusConfig } from '../config';
import { CompiledLayout, compileLayout } from './monitoring-layout';
import {
  REFERENCE_PROFILE_ARTIFACT,
  ReferenceData,
  VersionProfile,
  VersionProfileSource,
  parseVersionProfile,
} from './version-profile';
import { buildVersionProfileJson } from './version-profile-off-thread';

/** Artifacts written by the training module (src/training/datasets/log-dataset.ts). */
export const REFERENCE_SAMPLE_FILE = 'reference-sample.json';
export const REFERENCE_LABELS_FILE = 'reference-labels.json';

/** A version without a loaded profile is looked up again from the ingest path at most this often. */
const PREFETCH_RETRY_MS = 30_000;

/** Rows per ONNX Runtime call when scoring a reference. */
const SCORING_CHUNK_ROWS = 256;

type RegistryAccess = Pick<
  ModelRegistry,
  'getManifest' | 'readModel' | 'readArtifact' | 'writeArtifact'
>;

/**
 * Runs a version's model over reference rows and returns its primary output per row (class
 * probabilities or [value]). Single FP32 input models only: the inputs monitoring can bin.
 */
export async function scoreReferenceRows(
  onnx: OnnxRuntime,
  manifest: ModelManifest,
  bytes: Uint8Array,
  rows: readonly number[][],
): Promise<number[][]> {
  const input = manifest.inputs[0];
  if (manifest.inputs.length !== 1 || input.datatype !== 'FP32') {
    throw new InvalidInputError(
      'reference profiles need a model with one FP32 input (rows of numbers)',
    );
  }
  const width = rows[0]?.length ?? 0;
  const session = await onnx.load(bytes);
  try {
    const fixedBatch = input.shape[0] > 0 ? input.shape[0] : undefined;
    const chunk = fixedBatch ?? SCORING_CHUNK_ROWS;
    const out: number[][] = [];
    for (let start = 0; start < rows.length; start += chunk) {
      const part = rows.slice(start, start + chunk);
      if (fixedBatch !== undefined && part.length !== fixedBatch) break;
      const data = new Float32Array(part.length * width);
      part.forEach((row, r) => data.set(row, r * width));
      const shape =
        input.shape.length === 2 ? [part.length, width] : [part.length, ...input.shape.slice(1)];
      const outputs = await session.run([{ name: input.name, datatype: 'FP32', shape, data }]);
      const primary = outputs.get(manifest.primary_output);
      if (!primary || Array.isArray(primary.data)) {
        throw new InvalidInputError(`the model has no numeric output '${manifest.primary_output}'`);
      }
      const outWidth = primary.data.length / part.length;
      for (let r = 0; r < part.length; r++) {
        const values: number[] = [];
        for (let k = 0; k < outWidth; k++) values.push(Number(primary.data[r * outWidth + k]));
        out.push(values);
      }
    }
    return out;
  } finally {
    await session.release();
  }
}

function rowsFromJson(value: unknown, what: string): number[][] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new InvalidInputError(`${what} must be a non-empty array of rows`);
  }
  const width = Array.isArray(value[0]) ? (value[0] as unknown[]).length : -1;
  return value.map((row, i) => {
    if (!Array.isArray(row) || row.length !== width || width === 0) {
      throw new InvalidInputError(`${what}: row ${i} must be an array of ${width} numbers`);
    }
    return row.map((x) => {
      if (x === null) return Number.NaN;
      if (typeof x !== 'number' || !Number.isFinite(x)) {
        throw new InvalidInputError(`${what}: row ${i} holds a value that is not a finite number`);
      }
      return x;
    });
  });
}

/**
 * The reference profiles of model versions: read from the `reference-profile.json` artifact, built
 * (and stored) from the training reference sample the first time a version is looked at, from rows
 * given by an admin, or from the first logged predictions when nothing else exists. Profiles are
 * cached, and their compiled layouts serve the ingest path synchronously (`compiledFor`).
 */
@Injectable()
export class ReferenceProfiles {
  private readonly log = new Logger('monitoring');
  private readonly profiles = new Map<string, VersionProfile>();
  private readonly layouts = new Map<string, CompiledLayout>();
  private readonly pending = new Map<string, Promise<VersionProfile | null>>();
  private readonly lastPrefetch = new Map<string, number>();

  constructor(
    @Inject(ModelRegistry) private readonly registry: RegistryAccess,
    private readonly onnx: OnnxRuntime,
    @Inject(ANALYTICS_STORE) private readonly store: AnalyticsStore,
    @Inject(ARGUS_CONFIG) private readonly config: Pick<ArgusConfig, 'monitoring'>,
  ) {}

  private key(model: string, version: number): string {
    return `${model}@${version}`;
  }

  /**
   * The compiled layout of a version whose profile is loaded (ingest path; never waits). On a miss
   * it starts loading the profile in the background (at most every PREFETCH_RETRY_MS per version),
   * so a version that went live before the first scheduler run is binned from its next batch on.
   */
  compiledFor(model: string, version: number): CompiledLayout | undefined {
    const key = this.key(model, version);
    const layout = this.layouts.get(key);
    if (layout) return layout;
    const now = Date.now();
    if ((this.lastPrefetch.get(key) ?? 0) + PREFETCH_RETRY_MS <= now) {
      this.lastPrefetch.set(key, now);
      this.get(model, version).catch((err: unknown) =>
        this.log.warn(`${key}: profile not loaded: ${errorMessage(err)}`),
      );
    }
    return undefined;
  }

  private remember(profile: VersionProfile): VersionProfile {
    const key = this.key(profile.model, profile.version);
    this.profiles.set(key, profile);
    this.layouts.set(key, compileLayout(profile));
    return profile;
  }

  /** The stored profile, or one built now from the version's reference sample; null if neither. */
  async get(model: string, version: number): Promise<VersionProfile | null> {
    const key = this.key(model, version);
    const cached = this.profiles.get(key);
    if (cached) return cached;
    const running = this.pending.get(key);
    if (running) return running;
    const work = this.load(model, version).finally(() => this.pending.delete(key));
    this.pending.set(key, work);
    return work;
  }

  private async load(model: string, version: number): Promise<VersionProfile | null> {
    const stored = await this.registry.readArtifact(model, version, REFERENCE_PROFILE_ARTIFACT);
    if (stored) return this.remember(parseVersionProfile(stored.toString('utf8')));
    const sample = await this.registry.readArtifact(model, version, REFERENCE_SAMPLE_FILE);
    if (!sample) return null;
    try {
      const rows = rowsFromJson(JSON.parse(sample.toString('utf8')), REFERENCE_SAMPLE_FILE);
      const labelsFile = await this.registry.readArtifact(model, version, REFERENCE_LABELS_FILE);
      const labels = labelsFile
        ? (JSON.parse(labelsFile.toString('utf8')) as Array<string | number>)
        : undefined;
      return await this.build(model, version, { rows, labels }, 'reference_sample');
    } catch (err) {
      this.log.warn(
        `${model}@${version}: cannot build a profile from ${REFERENCE_SAMPLE_FILE}: ${errorMessage(err)}`,
      );
      return null;
    }
  }

  /** Scores the rows with the version's model, builds the profile and stores it. */
  private async build(
    model: string,
    version: number,
    data: { rows: number[][]; labels?: ReadonlyArray<string | number>; outputs?: number[][] },
    source: VersionProfileSource,
  ): Promise<VersionProfile> {
    const { manifest, bytes } = await this.registry.readModel(model, version);
    const outputs =
      data.outputs ?? (await scoreReferenceRows(this.onnx, manifest, bytes, data.rows));
    const reference: ReferenceData = { rows: data.rows.slice(0, outputs.length), outputs };
    if (data.labels) reference.labels = data.labels.slice(0, outputs.length);
    const json = await buildVersionProfileJson(manifest, reference, source);
    const profile = parseVersionProfile(json);
    await this.registry.writeArtifact(model, version, REFERENCE_PROFILE_ARTIFACT, json);
    this.log.log(
      `${model}@${version}: reference profile built from ${profile.profile.rows} rows (${source})`,
    );
    return this.remember(profile);
  }

  /**
   * Sets the reference of a version from given rows (registration, `PUT …/reference`). Refused when
   * the version has a profile already: the bins of logged predictions were computed against it.
   */
  async setReference(
    model: string,
    version: number,
    data: { rows: unknown; labels?: unknown },
  ): Promise<VersionProfile> {
    await this.registry.getManifest(model, version);
    if (
      (await this.registry.readArtifact(model, version, REFERENCE_PROFILE_ARTIFACT)) !== undefined
    ) {
      throw new ConflictError(
        `model '${model}' version ${version} has a reference profile already; profiles are immutable (register a new version to change it)`,
      );
    }
    const rows = rowsFromJson(data.rows, 'rows');
    let labels: Array<string | number> | undefined;
    if (data.labels !== undefined) {
      if (
        !Array.isArray(data.labels) ||
        data.labels.length !== rows.length ||
        data.labels.some((l) => typeof l !== 'string' && typeof l !== 'number')
      ) {
        throw new InvalidInputError(`labels must be an array of ${rows.length} strings or numbers`);
      }
      labels = data.labels as Array<string | number>;
    }
    return this.build(model, version, { rows, labels }, 'registration');
  }

  /**
   * For a version without any reference: once it has logged `profileFromLogRows` predictions with
   * their inputs, their first rows become its reference (marked `logged_predictions`).
   */
  async buildFromLoggedPredictions(model: string, version: number): Promise<VersionProfile | null> {
    const existing = await this.get(model, version);
    if (existing) return existing;
    const limit = this.config.monitoring.profileFromLogRows;
    const logged = await this.store.firstLoggedPredictions({ model, version, limit });
    if (logged.length < limit) return null;
    const width = logged[0].inputs.length;
    const usable = logged.filter((r) => r.inputs.length === width);
    return this.build(
      model,
      version,
      {
        rows: usable.map((r) => r.inputs),
        outputs: usable.map((r) => (r.scores.length > 0 ? r.scores : [r.value ?? Number.NaN])),
      },
      'logged_predictions',
    );
  }
}
