import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { driveOpenLoop } from '../../../bench/logging/open-loop';
import type { Payload } from '../../../bench/serving/payloads';

/**
 * The logging benchmark's latency verdicts rest on the open-loop driver counting each request from
 * its scheduled send time. Against a server that stalls for 200 ms, every request scheduled during
 * the stall must show the wait — not only the few that were in flight when it began (what a
 * closed-loop generator would record: coordinated omission).
 */
/** One empty JSON body, POSTed to `path`. */
function emptyBodies(path: string): Payload {
  return {
    protocol: 'v1',
    rowsPerRequest: 1,
    path,
    bodies: ['{}'],
    headers: { 'content-type': 'application/json' },
    bytesPerBody: 2,
  };
}

describe('open-loop load driver', () => {
  let server: Server;
  let url: string;
  let first: number | undefined;

  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const now = Date.now();
        first ??= now;
        // Requests arriving 300-500 ms into the run wait until 500 ms.
        const hold = now - first >= 300 && now - first < 500 ? first + 500 - now : 0;
        setTimeout(() => {
          res.statusCode = req.url === '/fail' ? 500 : 200;
          res.setHeader('content-type', 'application/json');
          res.end('{}');
        }, hold);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('sends on schedule and counts a stall in every request scheduled during it', async () => {
    first = undefined;
    const result = await driveOpenLoop(url, emptyBodies('/ok'), 200, 1, 4);
    expect(result.scheduled).toBe(200);
    expect(result.ok).toBe(200);
    expect(result.non2xx + result.errors).toBe(0);
    expect(result.connectionsUsed).toBe(4);
    const slow = result.latencies.filter((ms) => ms >= 100).length;
    // ~20 requests are scheduled in the stall's first 100 ms; a closed loop would see at most 4.
    expect(slow).toBeGreaterThanOrEqual(12);
    expect(Math.max(...result.latencies)).toBeGreaterThanOrEqual(150);
  });

  it('counts answers that are not 2xx apart from the latencies', async () => {
    first = undefined;
    const result = await driveOpenLoop(url, emptyBodies('/fail'), 50, 0.2, 2);
    expect(result.non2xx).toBe(10);
    expect(result.ok).toBe(0);
    expect(result.latencies).toHaveLength(0);
  });
});
