import { ClickHouseStore } from '../../../src/store/clickhouse-store';
import { freePort } from '../../harness/clickhouse-server';
import { ClickHouseServer, startPrivateClickHouse } from '../../harness/clickhouse';
import { MigrationFailedError, StoreUnavailableError } from '../../../src/store';
import { prediction } from './support';

/**
 * The real server goes away (SIGKILL) and comes back on the same data directory and ports: the
 * store reports a retryable StoreUnavailableError meanwhile (so a writer spools), and afterwards
 * works again with everything acknowledged before the crash still there.
 */
describe('ClickHouse store when the server fails', () => {
  let server: ClickHouseServer;
  let store: ClickHouseStore;

  beforeAll(async () => {
    server = await startPrivateClickHouse();
    store = new ClickHouseStore({
      url: server.url,
      user: 'default',
      password: '',
      database: 'argus_faults',
      requestTimeoutMs: 5000,
    });
    await store.migrate();
  });

  afterAll(async () => {
    await store.close();
    await server.dispose();
  });

  it('throws StoreUnavailableError while killed, recovers after restart, loses nothing acknowledged', async () => {
    const before = Array.from({ length: 500 }, () => prediction({ model: 'fault' }));
    await store.insertPredictions(before);

    await server.kill('SIGKILL');
    expect(server.running).toBe(false);

    const during = Array.from({ length: 200 }, () => prediction({ model: 'fault' }));
    const failed = store.insertPredictions(during);
    await expect(failed).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.insertPredictions(during)).rejects.toMatchObject({ retryable: true });
    await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.countPredictions()).rejects.toBeInstanceOf(StoreUnavailableError);

    await server.start();
    const port = server.httpPort;
    expect(server.url).toBe(`http://127.0.0.1:${port}`);
    await store.ping();

    // Replay of the spooled batch, and a duplicate replay of the first one.
    await store.insertPredictions(during);
    await store.insertPredictions(before);
    const [count] = await store.countPredictions({ model: 'fault' });
    expect(count.count).toBe(700);
    await store.compact();
    expect((await store.rowCounts()).predictions).toBe(700);
  });

  it('reports an unreachable server as StoreUnavailableError, for migrations too', async () => {
    const nowhere = new ClickHouseStore({
      url: `http://127.0.0.1:${await freePort()}`,
      user: 'default',
      password: '',
      database: 'argus_nowhere',
      requestTimeoutMs: 2000,
    });
    try {
      await expect(nowhere.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
      const migration = nowhere.migrate();
      await expect(migration).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(nowhere.migrate()).rejects.not.toBeInstanceOf(MigrationFailedError);
      await expect(nowhere.insertPredictions([prediction()])).rejects.toBeInstanceOf(
        StoreUnavailableError,
      );
    } finally {
      await nowhere.close();
    }
  });

  it('refuses use after close with StoreUnavailableError', async () => {
    const closed = new ClickHouseStore({
      url: server.url,
      user: 'default',
      password: '',
      database: 'argus_faults',
    });
    await closed.close();
    await closed.close(); // twice is fine
    await expect(closed.insertPredictions([prediction()])).rejects.toBeInstanceOf(
      StoreUnavailableError,
    );
  });
});
