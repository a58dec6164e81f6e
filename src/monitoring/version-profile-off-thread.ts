import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { reviveError, SerializedError, workerEntry } from '../common/worker-threads';
import type { ModelManifest } from '../registry/manifest';
import { buildVersionProfile, ReferenceData, VersionProfileSource } from './version-profile';

/**
 * Builds a version profile on a thread of its own when the reference is large. Fitting the PCA of
 * 1000 MNIST rows held the serving thread for ~0.7 s — every request in flight waited that long —
 * once per new version, the moment its logged rows reached `ARGUS_MONITORING_PROFILE_ROWS`. Small
 * references (tests, tabular models) are built in place: a thread costs ~30 ms to start, longer
 * than their whole build.
 */

/** References with fewer values than this (rows × columns) are built on the calling thread. */
export const OFF_THREAD_MIN_VALUES = 50_000;

export interface ProfileBuildRequest {
  manifest: ModelManifest;
  /** The reference rows packed into one block (`packRows`), transferred to the thread. */
  data: Omit<ReferenceData, 'rows'> & { rows: PackedRows };
  source: VersionProfileSource;
  now: number;
}

/** Rows of numbers in one block: row i is `values[offsets[i]]` up to `values[offsets[i + 1]]`. */
export interface PackedRows {
  values: Float64Array;
  offsets: Uint32Array;
}

/**
 * One block instead of a typed array per row, so the thread gets the reference by transfer. With
 * a typed array per row, the Worker constructor cloned 1000 MNIST rows on the serving thread:
 * 3-24 ms on a quiet machine, ~35 ms in a profile under load, in the moment a new version's rows
 * reached ARGUS_MONITORING_PROFILE_ROWS. Packing and transferring take 1-2 ms and ~1 ms.
 */
export function packRows(rows: ReadonlyArray<ArrayLike<number>>): PackedRows {
  const offsets = new Uint32Array(rows.length + 1);
  for (let i = 0; i < rows.length; i++) offsets[i + 1] = offsets[i] + rows[i].length;
  const values = new Float64Array(offsets[rows.length]);
  for (let i = 0; i < rows.length; i++) values.set(rows[i], offsets[i]);
  return { values, offsets };
}

export function unpackRows(packed: PackedRows): number[][] {
  const { values, offsets } = packed;
  const rows: number[][] = new Array<number[]>(offsets.length - 1);
  for (let i = 0; i < rows.length; i++) {
    rows[i] = Array.from(values.subarray(offsets[i], offsets[i + 1]));
  }
  return rows;
}

export type ProfileBuildReply = { ok: true; json: string } | { ok: false; error: SerializedError };

/**
 * The profile as the JSON text the registry stores (`JSON.stringify` of `buildVersionProfile`'s
 * result, computed where the profile was built). `offThread` overrides the size rule (tests).
 */
export async function buildVersionProfileJson(
  manifest: ModelManifest,
  data: ReferenceData,
  source: VersionProfileSource,
  offThread = data.rows.length * (data.rows[0]?.length ?? 0) >= OFF_THREAD_MIN_VALUES,
): Promise<string> {
  if (!offThread) return JSON.stringify(buildVersionProfile(manifest, data, source));
  const rows = packRows(data.rows);
  const request: ProfileBuildRequest = {
    manifest,
    data: { ...data, rows },
    source,
    now: Date.now(),
  };
  const entry = workerEntry(__dirname, 'version-profile-worker', path.extname(__filename));
  const worker = new Worker(entry.filename, {
    workerData: request,
    // packRows allocated both with `new`, so they are plain ArrayBuffers, never shared ones.
    transferList: [rows.values.buffer as ArrayBuffer, rows.offsets.buffer as ArrayBuffer],
    execArgv: entry.execArgv,
    env: entry.env,
  });
  return new Promise<string>((resolve, reject) => {
    let settled = false;
    worker.once('message', (reply: ProfileBuildReply) => {
      settled = true;
      if (reply.ok) resolve(reply.json);
      else reject(reviveError(reply.error));
    });
    worker.once('error', (err) => {
      settled = true;
      reject(err);
    });
    worker.once('exit', (code) => {
      if (!settled)
        reject(new Error(`the profile thread exited with code ${code} before a result`));
    });
  });
}
