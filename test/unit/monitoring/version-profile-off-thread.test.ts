import { mnistRows } from '../../../bench/serving/payloads';
import { InvalidInputError } from '../../../src/common/errors';
import {
  buildVersionProfileJson,
  OFF_THREAD_MIN_VALUES,
  packRows,
  unpackRows,
} from '../../../src/monitoring/version-profile-off-thread';
import { parseVersionProfile } from '../../../src/monitoring/version-profile';
import { classifierManifest } from '../../integration/monitoring/support';

/** The profile built on its own thread is the one built in place, PCA of a wide reference included. */
describe('version profile built off the serving thread', () => {
  const rows = mnistRows(240);
  const outputs = rows.map((row) => {
    const p = Math.min(0.99, Math.max(0.01, row.reduce((s, v) => s + v, 0) / 150));
    return [1 - p, p];
  });
  const labels = outputs.map((o, i) =>
    i % 7 === 0 ? 'negative' : o[1] > 0.5 ? 'positive' : 'negative',
  );
  // The two builds ran at different times; everything else must be equal.
  const withoutTimestamp = (json: string) => ({ ...parseVersionProfile(json), created_at: '' });

  it('matches the profile built in place, value for value', async () => {
    expect(rows.length * 784).toBeGreaterThanOrEqual(OFF_THREAD_MIN_VALUES);
    const data = { rows, outputs, labels };
    const inPlace = await buildVersionProfileJson(
      classifierManifest('wide'),
      data,
      'registration',
      false,
    );
    const offThread = await buildVersionProfileJson(
      classifierManifest('wide'),
      data,
      'registration',
    );
    const profile = withoutTimestamp(offThread);
    expect(profile.profile.multivariate).toBeTruthy();
    expect(profile).toEqual(withoutTimestamp(inPlace));
  });

  it('rejects with the error class of the build (an invalid reference is a 400, not a 500)', async () => {
    const data = { rows, outputs: outputs.slice(1), labels };
    await expect(
      buildVersionProfileJson(classifierManifest('wide'), data, 'registration', true),
    ).rejects.toThrow(InvalidInputError);
    await expect(
      buildVersionProfileJson(classifierManifest('wide'), data, 'registration', true),
    ).rejects.toThrow(/239 output rows for 240 input rows/);
  });
});

describe('reference rows packed for the profile thread', () => {
  it('unpacks to the rows it packed, whatever their widths', () => {
    const rows = [
      [1.5, -0, NaN, 1e-310],
      [],
      [Infinity],
      Array.from({ length: 784 }, (_, i) => i / 7),
    ];
    const packed = packRows([...rows, new Float32Array([0.25, 3])]);
    expect(packed.offsets).toEqual(new Uint32Array([0, 4, 4, 5, 789, 791]));
    expect(unpackRows(packed)).toEqual([...rows, [0.25, 3]]);
    expect(Object.is(unpackRows(packed)[0][1], -0)).toBe(true);
  });

  it('packs no rows into an empty block', () => {
    const packed = packRows([]);
    expect(packed.values.length).toBe(0);
    expect(unpackRows(packed)).toEqual([]);
  });
});
