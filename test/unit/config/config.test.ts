import { ConfigError, loadConfig } from '../../../src/config';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('loadConfig', () => {
  it('has defaults that start a local server on the embedded store', () => {
    const c = loadConfig({});
    expect(c.server.port).toBe(8080);
    expect(c.server.host).toBe('127.0.0.1');
    expect(c.server.loopbackOnly).toBe(true);
    expect(c.store.clickhouse).toBeUndefined();
    expect(c.predictionLog.durability).toBe('async');
    expect(c.home.endsWith('.argus')).toBe(true);
  });

  it('listens on all interfaces only when an admin token is set', () => {
    const c = loadConfig({ ARGUS_ADMIN_TOKEN: 'a-long-enough-token' });
    expect(c.server.host).toBe('0.0.0.0');
    expect(c.server.loopbackOnly).toBe(false);
  });

  it('reports every bad value at once', () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({
        PORT: 'eighty',
        ARGUS_MAX_BATCH_SIZE: '0',
        ARGUS_LOG_DURABILITY: 'sometimes',
        ARGUS_LOG_INPUTS: 'sample:2',
        CLICKHOUSE_URL: 'ftp://x',
        ARGUS_ADMIN_TOKEN: 'short',
      });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.problems).toHaveLength(6);
    expect(error!.message).toMatch(/PORT/);
    expect(error!.message).toMatch(/ARGUS_MAX_BATCH_SIZE/);
    expect(error!.message).toMatch(/ARGUS_LOG_DURABILITY/);
    expect(error!.message).toMatch(/ARGUS_LOG_INPUTS/);
    expect(error!.message).toMatch(/CLICKHOUSE_URL/);
    expect(error!.message).toMatch(/ARGUS_ADMIN_TOKEN/);
  });

  it('reads a YAML file and lets environment variables win', () => {
    const dir = mkdtempSync(join(tmpdir(), 'argus-config-'));
    const file = join(dir, 'argus.yaml');
    writeFileSync(
      file,
      'server:\n  port: 9000\n  max_rows_per_request: 10\nbatching:\n  max_batch_size: 16\nprediction_log:\n  inputs: sample:0.25\n',
    );
    const c = loadConfig({ ARGUS_CONFIG: file, ARGUS_MAX_BATCH_SIZE: '32' });
    expect(c.server.port).toBe(9000);
    expect(c.server.maxRowsPerRequest).toBe(10);
    expect(c.batching.maxBatchSize).toBe(32);
    expect(c.predictionLog.inputs).toEqual({ mode: 'sample', rate: 0.25 });
  });

  it('names a YAML file it cannot read', () => {
    expect(() => loadConfig({ ARGUS_CONFIG: '/nonexistent/argus.yaml' })).toThrow(/ARGUS_CONFIG/);
  });
});

describe('drift methods and thresholds (monitoring.thresholds, monitoring.drift)', () => {
  function yamlConfig(text: string, env: Record<string, string> = {}) {
    const dir = mkdtempSync(join(tmpdir(), 'argus-config-'));
    const file = join(dir, 'argus.yaml');
    writeFileSync(file, text);
    return loadConfig({ ARGUS_CONFIG: file, ...env });
  }

  function problemsOf(load: () => unknown): string[] {
    try {
      load();
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
    return [];
  }

  it('defaults to the default thresholds and no overrides', () => {
    const c = loadConfig({});
    expect(c.monitoring.thresholds).toBe('default');
    expect(c.monitoring.drift).toEqual({});
  });

  it('reads learned thresholds from the environment or the YAML file', () => {
    expect(loadConfig({ ARGUS_MONITORING_THRESHOLDS: 'learned' }).monitoring.thresholds).toBe(
      'learned',
    );
    expect(yamlConfig('monitoring:\n  thresholds: learned\n').monitoring.thresholds).toBe(
      'learned',
    );
    expect(
      yamlConfig('monitoring:\n  thresholds: learned\n', { ARGUS_MONITORING_THRESHOLDS: 'default' })
        .monitoring.thresholds,
    ).toBe('default');
    expect(problemsOf(() => loadConfig({ ARGUS_MONITORING_THRESHOLDS: 'p-values' }))).toEqual([
      "ARGUS_MONITORING_THRESHOLDS (monitoring.thresholds) must be one of default, learned, got 'p-values'",
    ]);
  });

  it('reads per-model, per-feature overrides, names with dots included', () => {
    const c = yamlConfig(
      [
        'monitoring:',
        '  drift:',
        '    credit:',
        '      income: { method: psi, threshold: 0.2 }',
        '      code: { method: hellinger }',
        '      "__output.score[yes]": { method: ks, threshold: 0.01 }',
        '    fraud.v2:',
        '      amount: { method: wasserstein, threshold: 0.3 }',
        '',
      ].join('\n'),
    );
    expect(c.monitoring.drift).toEqual({
      credit: {
        income: { method: 'psi', threshold: 0.2 },
        code: { method: 'hellinger' },
        '__output.score[yes]': { method: 'ks', threshold: 0.01 },
      },
      'fraud.v2': { amount: { method: 'wasserstein', threshold: 0.3 } },
    });
  });

  it('takes overrides from ARGUS_MONITORING_DRIFT (JSON) over the file', () => {
    const c = yamlConfig('monitoring:\n  drift:\n    credit:\n      income: { method: psi }\n', {
      ARGUS_MONITORING_DRIFT: JSON.stringify({ credit: { age: { method: 'kl', threshold: 0.5 } } }),
    });
    expect(c.monitoring.drift).toEqual({ credit: { age: { method: 'kl', threshold: 0.5 } } });
  });

  it('lists every bad override at once, with the other bad values', () => {
    const problems = problemsOf(() =>
      yamlConfig(
        [
          'monitoring:',
          '  drift:',
          '    credit:',
          '      a: { method: chi2 }',
          '      b: { method: psi, threshold: 0 }',
          '      c: { method: psi, threshold: -1 }',
          '      d: { method: psi, threshold: .nan }',
          '      e: { method: ks, threshold: 5 }',
          '      f: { threshold: 0.2 }',
          '      g: { method: psi, treshold: 0.2 }',
          '      h: {}',
          '      i: psi',
          '      j: { method: psi, threshold: "high" }',
          '    other: [1, 2]',
          '',
        ].join('\n'),
        { ARGUS_MONITORING_THRESHOLDS: 'sometimes' },
      ),
    );
    const at = (feature: string) => `ARGUS_MONITORING_DRIFT (monitoring.drift): credit.${feature}`;
    expect(problems).toEqual([
      "ARGUS_MONITORING_THRESHOLDS (monitoring.thresholds) must be one of default, learned, got 'sometimes'",
      `${at('a')}.method must be one of ks, wasserstein, psi, kl, jensen_shannon, hellinger, chi_square, got 'chi2'`,
      `${at('b')}.threshold must be a number greater than 0, got '0'`,
      `${at('c')}.threshold must be a number greater than 0, got '-1'`,
      `${at('d')}.threshold must be a number greater than 0, got 'NaN'`,
      `${at('e')}.threshold must be a number in (0, 1) for a p-value method, got '5'`,
      `${at('f')}.threshold needs a method: the default method is a p-value test or a distance depending on the reference size`,
      `${at('g')} has unknown key(s) treshold (allowed: method, threshold)`,
      `${at('h')} must set method and/or threshold`,
      `${at('i')} must be a mapping with method and/or threshold`,
      `${at('j')}.threshold must be a number greater than 0, got 'high'`,
      "ARGUS_MONITORING_DRIFT (monitoring.drift): 'other' must map feature names to overrides",
    ]);
  });

  it('refuses overrides that are not a mapping, and unparsable JSON in the environment', () => {
    expect(problemsOf(() => yamlConfig('monitoring:\n  drift: psi\n'))).toEqual([
      'ARGUS_MONITORING_DRIFT (monitoring.drift) must map model names to features, got "psi"',
    ]);
    const problems = problemsOf(() => loadConfig({ ARGUS_MONITORING_DRIFT: '{ credit: [' }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^ARGUS_MONITORING_DRIFT \(monitoring.drift\) is not valid YAML/);
  });
});
