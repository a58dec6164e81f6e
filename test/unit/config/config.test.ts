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
