import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findClickHouseServer, freePort } from '../../harness/clickhouse-server';

describe('test harness: finding clickhouse-server', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'argus-harness-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('says how to install it when it is missing', () => {
    expect(() => findClickHouseServer({ PATH: dir }, [])).toThrow(
      /apt-get install clickhouse-server/,
    );
  });

  it('prefers clickhouse-server, else the multi-tool binary with `server`', () => {
    const multi = join(dir, 'clickhouse');
    writeFileSync(multi, '#!/bin/sh\n');
    chmodSync(multi, 0o755);
    expect(findClickHouseServer({ PATH: dir }, [])).toEqual({ file: multi, args: ['server'] });
    const standalone = join(dir, 'clickhouse-server');
    writeFileSync(standalone, '#!/bin/sh\n');
    chmodSync(standalone, 0o755);
    expect(findClickHouseServer({ PATH: dir }, [])).toEqual({ file: standalone, args: [] });
  });

  it('refuses a CLICKHOUSE_SERVER_BIN that is not executable', () => {
    expect(() => findClickHouseServer({ CLICKHOUSE_SERVER_BIN: join(dir, 'nope') }, [])).toThrow(
      /not an executable/,
    );
  });

  it('hands out free loopback ports', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    expect(port).toBeLessThan(65536);
  });
});
