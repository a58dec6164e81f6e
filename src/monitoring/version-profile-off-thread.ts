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
  /** Rows as Float64Arrays: a structured clone copies them as one block each. */
  data: Omit<ReferenceData, 'rows'> & { rows: Float64Array[] };
  source: VersionProfileSource;
  now: number;
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
  const request: ProfileBuildRequest = {
    manifest,
    data: { ...data, rows: data.rows.map((row) => Float64Array.from(row)) },
    source,
    now: Date.now(),
  };
  const entry = workerEntry(__dirname, 'version-profile-worker', path.extname(__filename));
  const worker = new Worker(entry.filename, {
    workerData: request,
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
