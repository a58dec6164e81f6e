import { VersionProfile } from '../../../src/monitoring/version-profile';
import { driftOptionsFor } from '../../../src/monitoring/monitoring.service';
import { DriftOverride } from '../../../src/config';
import { DEFAULT_DRIFT_THRESHOLDS, FeatureDrift } from '../../../src/monitoring/stats';
import {
  EvaluateOptions,
  EvaluationTarget,
  EvaluationWindow,
  WindowReport,
  evaluateWindow,
} from '../../../src/monitoring/window-evaluation';
import { StoreKind } from '../../../src/store';
import { openStoreFixture, StoreFixture } from '../store/support';
import {
  feedbackFor,
  storedPredictions,
  syntheticRows,
  referenceProfile,
  classifierTarget,
} from './support';

/**
 * Configured drift methods and thresholds (`monitoring.thresholds`, `monitoring.drift`) reach the
 * verdicts: learned thresholds from the profile's reference chunks, per-feature overrides of the
 * method and threshold, on the aggregate path and the raw path alike.
 */

const HOUR = 3_600_000;
const T0 = Date.UTC(2024, 3, 1, 10, 0, 0);
const STEADY: EvaluationWindow = { label: 'steady', from: T0, to: T0 + HOUR };
const DRIFTED: EvaluationWindow = { label: 'drifted', from: T0 + HOUR, to: T0 + 2 * HOUR };

describe.each<StoreKind>(['clickhouse', 'duckdb'])('drift methods and thresholds on %s', (kind) => {
  let fixture: StoreFixture;
  let profile: VersionProfile;
  let base: EvaluationTarget;

  const withConfig = (
    thresholds: 'default' | 'learned',
    drift: Record<string, DriftOverride> = {},
    target: EvaluationTarget = base,
  ): EvaluationTarget => ({
    ...target,
    drift: driftOptionsFor({ thresholds, drift: { credit: drift } }, 'credit'),
  });

  /** Evaluates on both paths, checks they agree, returns the aggregate path's report. */
  async function evaluate(
    target: EvaluationTarget,
    window: EvaluationWindow,
    options: EvaluateOptions = {},
  ): Promise<WindowReport> {
    const [auto, raw] = await Promise.all([
      evaluateWindow(fixture.store, target, window, options),
      evaluateWindow(fixture.store, target, window, { ...options, source: 'raw' }),
    ]);
    expect(raw.drift).toEqual(auto.drift);
    expect(raw.notes).toEqual(auto.notes);
    return auto;
  }

  const feature = (report: WindowReport, name: string): FeatureDrift => {
    const found = [...(report.drift?.features ?? []), ...(report.drift?.outputs ?? [])].find(
      (f) => f.name === name,
    );
    if (!found) throw new Error(`no drift for ${name}`);
    return found;
  };

  beforeAll(async () => {
    fixture = await openStoreFixture(kind, 'drift_options');
    await fixture.store.migrate();
    // 4000 reference rows: 10 chunks of 400 for the learned thresholds; > 1000 rows, so the
    // default methods are the distances (Wasserstein, Jensen–Shannon).
    profile = referenceProfile(4000, 11);
    base = classifierTarget(profile);
    const steadyRows = syntheticRows(3000, 2);
    const steady = storedPredictions(steadyRows, profile, STEADY.from);
    await fixture.store.insertPredictions(steady);
    await fixture.store.insertPredictions(
      storedPredictions(syntheticRows(3000, 3, 1.5), profile, DRIFTED.from),
    );
    await fixture.store.insertFeedback(feedbackFor(steady, steadyRows, T0 + 3 * HOUR));
  });

  afterAll(async () => {
    await fixture?.cleanup();
  });

  it('keeps the default methods and thresholds without configuration', async () => {
    const plain = await evaluate(base, DRIFTED);
    const configured = await evaluate(withConfig('default'), DRIFTED);
    expect(configured.drift).toEqual(plain.drift);
    expect(configured.notes).toEqual(plain.notes);
    const signal = feature(plain, 'signal');
    expect(signal).toMatchObject({
      method: 'wasserstein',
      threshold: 0.1,
      threshold_source: 'default',
      drift: true,
    });
    expect(feature(plain, 'code')).toMatchObject({
      method: 'jensen_shannon',
      threshold_source: 'default',
    });
    expect(
      plain.drift?.features.every((f) => f.threshold === DEFAULT_DRIFT_THRESHOLDS[f.method]),
    ).toBe(true);
  });

  it('judges every feature and output with its learned threshold under `learned`', async () => {
    const learned = withConfig('learned');
    for (const window of [STEADY, DRIFTED]) {
      const report = await evaluate(learned, window);
      const judged = [...report.drift!.features, ...report.drift!.outputs];
      // The label too: STEADY's labels are judged, DRIFTED's (no feedback) are insufficient data.
      expect(judged.map((f) => f.name)).toEqual([
        'signal',
        'uniform',
        'code',
        'prediction',
        'label',
        'score[negative]',
        'score[positive]',
      ]);
      const profiles = new Map(
        [
          ...profile.profile.features,
          ...profile.profile.outputs!.scores,
          profile.profile.outputs!.prediction!,
          profile.profile.outputs!.label!,
        ].map((p) => [p.name, p]),
      );
      for (const f of judged) {
        const threshold = profiles.get(f.name)!.learned_thresholds!.methods[f.method]!;
        expect(f.threshold_source).toBe('learned');
        // Distances drift above the upper bound (mean + 3σ of the reference chunks' scores).
        expect(f.threshold).toBe(threshold.upper);
        expect(f.threshold).not.toBe(DEFAULT_DRIFT_THRESHOLDS[f.method]);
      }
    }
    const steady = await evaluate(learned, STEADY);
    expect(steady.drift?.features.map((f) => f.drift)).toEqual([false, false, false]);
    const drifted = await evaluate(learned, DRIFTED);
    const signal = feature(drifted, 'signal');
    expect(signal.drift).toBe(true);
    expect(signal.score).toBeGreaterThan(signal.threshold);
  });

  it('falls back to the default threshold when the profile learned none', async () => {
    const unlearned: VersionProfile = {
      ...profile,
      profile: {
        ...profile.profile,
        features: profile.profile.features.map((f) =>
          f.name === 'uniform' ? { ...f, learned_thresholds: null } : f,
        ),
      },
    };
    const report = await evaluate(
      withConfig('learned', {}, { ...base, profile: unlearned }),
      STEADY,
    );
    expect(feature(report, 'uniform')).toMatchObject({
      threshold: 0.1,
      threshold_source: 'default',
    });
    expect(feature(report, 'signal').threshold_source).toBe('learned');
  });

  it('applies a per-feature override of method and threshold, and the verdict follows it', async () => {
    const before = await evaluate(base, DRIFTED);
    expect(feature(before, 'signal').drift).toBe(true);
    expect(feature(before, 'prediction').drift).toBe(true);
    expect(before.drift?.drift_share).toBeCloseTo(1 / 3, 10);

    // A 1.5σ shift has a Hellinger distance near 0.5: under a 0.9 threshold it is no drift.
    const lenient = await evaluate(
      withConfig('default', {
        signal: { method: 'hellinger', threshold: 0.9 },
        '__output.prediction': { method: 'hellinger', threshold: 0.9 },
      }),
      DRIFTED,
    );
    const signal = feature(lenient, 'signal');
    expect(signal).toMatchObject({
      method: 'hellinger',
      threshold: 0.9,
      threshold_source: 'configured',
      drift: false,
    });
    expect(signal.score).toBe(feature(before, 'signal').stats.hellinger);
    expect(signal.score).toBeGreaterThan(0.3);
    expect(feature(lenient, 'prediction')).toMatchObject({
      method: 'hellinger',
      threshold: 0.9,
      drift: false,
    });
    expect(lenient.drift?.drift_share).toBe(0);
    expect(feature(lenient, 'uniform')).toEqual(feature(before, 'uniform'));

    // The other way: a steady feature's PSI (sampling noise, ~0.005) over a tiny threshold.
    const steadyBefore = await evaluate(base, STEADY);
    expect(feature(steadyBefore, 'uniform').drift).toBe(false);
    const strict = await evaluate(
      withConfig('default', { uniform: { method: 'psi', threshold: 0.0005 } }),
      STEADY,
    );
    const uniform = feature(strict, 'uniform');
    expect(uniform).toMatchObject({
      method: 'psi',
      threshold: 0.0005,
      threshold_source: 'configured',
      drift: true,
    });
    expect(uniform.score).toBeGreaterThan(0.0005);
  });

  it('uses the learned threshold of an overridden method when no threshold is configured', async () => {
    const report = await evaluate(withConfig('learned', { uniform: { method: 'psi' } }), STEADY);
    expect(feature(report, 'uniform')).toMatchObject({
      method: 'psi',
      threshold: profile.profile.features[1].learned_thresholds!.methods.psi!.upper,
      threshold_source: 'learned',
    });
  });

  it('ignores, with a note, overrides of unknown features and methods the type cannot take', async () => {
    const plain = await evaluate(base, STEADY);
    const report = await evaluate(
      withConfig('default', { code: { method: 'ks', threshold: 0.01 }, nope: { method: 'psi' } }),
      STEADY,
    );
    expect(feature(report, 'code')).toEqual(feature(plain, 'code'));
    expect(report.notes).toEqual(
      expect.arrayContaining([
        "drift override for 'code' ignored: method 'ks' needs a numerical feature, and 'code' is categorical in credit@1's profile",
        expect.stringMatching(
          /^drift override for 'nope' ignored: credit@1 monitors no such feature \(monitored: signal, uniform, code, __output.prediction/,
        ),
      ]),
    );
  });

  it('applies overrides, but never learned thresholds, between two windows', async () => {
    const report = await evaluate(
      withConfig('learned', { signal: { method: 'hellinger', threshold: 0.9 } }),
      DRIFTED,
      { baseline: STEADY },
    );
    expect(report.drift?.compared_with).toBe('window');
    expect(feature(report, 'signal')).toMatchObject({
      method: 'hellinger',
      threshold: 0.9,
      threshold_source: 'configured',
      drift: false,
    });
    expect(feature(report, 'uniform')).toMatchObject({
      threshold: 0.1,
      threshold_source: 'default',
    });
  });
});
