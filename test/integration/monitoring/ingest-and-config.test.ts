import { ConfigError, loadConfig } from '../../../src/config';
import { enrichWithFeatureBins } from '../../../src/monitoring/feature-bin-enricher';
import { compileLayout } from '../../../src/monitoring/monitoring-layout';
import { storedPredictions, syntheticRows, referenceProfile } from './support';

/** The ingest enricher and the monitoring configuration section. */

const profile = referenceProfile(500, 5);

describe('feature bins at ingest', () => {
  const layout = compileLayout(profile);
  const rows = storedPredictions(syntheticRows(4, 6), profile, 0).map((r) => ({
    ...r,
    feature_bins: undefined,
  }));

  it('bins rows of versions with a profile: features, class scores, CBPE segments', async () => {
    const out = await enrichWithFeatureBins(rows, (model, version) =>
      model === 'credit' && version === 1 ? layout : undefined,
    );
    expect(layout.layout.width).toBe(3 + 2 + 2);
    for (const row of out) {
      expect(row.feature_bins).toHaveLength(7);
      expect(row.feature_bins!.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)).toBe(true);
    }
    // The input rows are not modified (the writer may still spool them as they were).
    expect(rows.every((r) => r.feature_bins === undefined)).toBe(true);
  });

  it('leaves rows without a profile, without inputs, of another width, or failed, unbinned', async () => {
    const odd = [
      { ...rows[0], model: 'other' },
      { ...rows[1], inputs: [] },
      { ...rows[2], inputs: [1, 2] },
      { ...rows[3], status: 400 },
    ];
    const out = await enrichWithFeatureBins(odd, (model) =>
      model === 'credit' ? layout : undefined,
    );
    expect(out.map((r) => r.feature_bins ?? [])).toEqual([[], [], [], []]);
  });
});

describe('monitoring configuration', () => {
  it('defaults to a 60 s interval over 1h and 1d windows', () => {
    const c = loadConfig({});
    expect(c.monitoring).toEqual({
      intervalSeconds: 60,
      windows: ['1h', '1d'],
      profileFromLogRows: 1000,
      qualityThreshold: 0.8,
      thresholds: 'default',
      drift: {},
    });
  });

  it('reads ARGUS_MONITORING_* and refuses bad values together', () => {
    const c = loadConfig({
      ARGUS_MONITORING_INTERVAL_S: '0',
      ARGUS_MONITORING_WINDOWS: '5m, rows:500',
      ARGUS_MONITORING_QUALITY_THRESHOLD: '0.9',
    });
    expect(c.monitoring.intervalSeconds).toBe(0);
    expect(c.monitoring.windows).toEqual(['5m', 'rows:500']);
    expect(c.monitoring.qualityThreshold).toBe(0.9);
    let error: ConfigError | undefined;
    try {
      loadConfig({
        ARGUS_MONITORING_INTERVAL_S: '-1',
        ARGUS_MONITORING_WINDOWS: '1 hour',
        ARGUS_MONITORING_QUALITY_THRESHOLD: '2',
      });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error?.problems).toHaveLength(3);
  });
});
