import { parentPort, workerData } from 'node:worker_threads';
import { lowerThreadPriority, serializeError } from '../common/worker-threads';
import { buildVersionProfile } from './version-profile';
import { ProfileBuildReply, ProfileBuildRequest, unpackRows } from './version-profile-off-thread';

/**
 * Entry point of a profile-building thread: builds one version profile from workerData, posts it
 * as the JSON text the registry stores, and ends.
 */

/** Below the serving thread, like training: the profile can wait a little, requests cannot. */
const PROFILE_NICE_INCREMENT = 10;

function run(request: ProfileBuildRequest): ProfileBuildReply {
  try {
    const profile = buildVersionProfile(
      request.manifest,
      {
        ...request.data,
        rows: unpackRows(request.data.rows),
      },
      request.source,
      new Date(request.now),
    );
    return { ok: true, json: JSON.stringify(profile) };
  } catch (err) {
    return { ok: false, error: serializeError(err) };
  }
}

lowerThreadPriority(PROFILE_NICE_INCREMENT);
parentPort?.postMessage(run(workerData as ProfileBuildRequest));
