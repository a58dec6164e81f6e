import { Socket, connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Payload } from '../serving/payloads';

/**
 * An open-loop load generator: requests are sent on a fixed schedule (`rate` per second) whether
 * or not earlier ones were answered, and each latency is measured from the request's *scheduled*
 * send time. A closed-loop generator (autocannon at N connections) only sends when an answer came
 * back, so at saturation its p99 is the queue of N requests divided by the throughput — a
 * throughput figure in disguise — and a server stall delays the sends that would have seen it
 * (coordinated omission). At a fixed rate below capacity the p99 shows what the server adds to a
 * request: pauses of its event loop, a flush, a store's threads taking the core.
 *
 * A fixed pool of keep-alive HTTP/1.1 sockets, all connected before the first request, one
 * request in flight per socket, no pipelining (as wrk2 does). A request due while every socket is
 * busy waits for one, and the wait counts in its latency. Sockets are never opened during the run:
 * a burst of new connections after a pause overflowed the listen queue, and the dropped SYNs came
 * back after the kernel's 1 s retransmit timeout — 1.05-1.1 s "latencies" on either side that
 * said nothing about the server.
 */

export interface OpenLoopResult {
  /** ms from the scheduled send time to the last byte of a 2xx answer. */
  latencies: number[];
  ok: number;
  non2xx: number;
  errors: number;
  /** Requests scheduled (every one was sent). */
  scheduled: number;
  /** Wall time from the first scheduled send to the last answer, s. */
  seconds: number;
  /** Most requests in flight at once (at most the pool's size). */
  connectionsUsed: number;
}

interface Connection {
  socket: Socket;
  buffer: Buffer;
  /** Scheduled time of the request in flight; undefined when idle. */
  scheduledAt?: number;
}

const HEADER_END = Buffer.from('\r\n\r\n');

export async function driveOpenLoop(
  url: string,
  payload: Payload,
  rate: number,
  seconds: number,
  connections = 64,
): Promise<OpenLoopResult> {
  if (!(rate > 0) || !(seconds > 0)) throw new Error('rate and seconds must be positive');
  const target = new URL(url);
  const port = Number(target.port);
  const host = target.hostname;
  const requests = payload.bodies.map((body) => {
    const bytes = Buffer.from(body);
    const headers = Object.entries(payload.headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('');
    const head =
      `POST ${payload.path} HTTP/1.1\r\nHost: ${target.host}\r\n` +
      `${headers}Content-Length: ${bytes.length}\r\n\r\n`;
    return Buffer.concat([Buffer.from(head), bytes]);
  });

  const result: OpenLoopResult = {
    latencies: [],
    ok: 0,
    non2xx: 0,
    errors: 0,
    scheduled: 0,
    seconds: 0,
    connectionsUsed: 0,
  };
  const idle: Connection[] = [];
  const open = new Set<Connection>();
  const waiting: number[] = []; // scheduled times of requests no socket has taken yet
  let sent = 0;
  let inFlight = 0;
  let onDrained: (() => void) | undefined;

  const finish = (conn: Connection, now: number, status: number | undefined) => {
    const scheduledAt = conn.scheduledAt;
    conn.scheduledAt = undefined;
    if (scheduledAt === undefined) return;
    inFlight--;
    if (status === undefined) result.errors++;
    else if (status >= 200 && status < 300) {
      result.ok++;
      result.latencies.push(now - scheduledAt);
    } else result.non2xx++;
  };

  const release = (conn: Connection) => {
    const next = waiting.shift();
    if (next !== undefined) send(conn, next);
    else {
      idle.push(conn);
      if (inFlight === 0 && onDrained) onDrained();
    }
  };

  const openConnection = (): Connection => {
    const conn: Connection = { socket: connect({ host, port }), buffer: Buffer.alloc(0) };
    conn.socket.setNoDelay(true);
    open.add(conn);
    conn.socket.on('data', (chunk: Buffer) => {
      conn.buffer = conn.buffer.length ? Buffer.concat([conn.buffer, chunk]) : chunk;
      const end = conn.buffer.indexOf(HEADER_END);
      if (end < 0) return;
      const head = conn.buffer.subarray(0, end).toString('latin1');
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      // Argus and Fastify always send Content-Length; a chunked answer would be a bench bug.
      if (!length) throw new Error(`answer without Content-Length:\n${head}`);
      const total = end + HEADER_END.length + Number(length[1]);
      if (conn.buffer.length < total) return;
      const status = Number(head.slice(9, 12));
      conn.buffer = conn.buffer.subarray(total);
      finish(conn, performance.now(), status);
      release(conn);
    });
    const drop = () => {
      if (!open.delete(conn)) return;
      const wasBusy = conn.scheduledAt !== undefined;
      finish(conn, performance.now(), undefined);
      const at = idle.indexOf(conn);
      if (at >= 0) idle.splice(at, 1);
      if (wasBusy && inFlight === 0 && onDrained) onDrained();
    };
    conn.socket.on('error', drop);
    conn.socket.on('close', drop);
    return conn;
  };

  const send = (conn: Connection, scheduledAt: number) => {
    conn.scheduledAt = scheduledAt;
    inFlight++;
    result.connectionsUsed = Math.max(result.connectionsUsed, inFlight);
    conn.socket.write(requests[sent++ % requests.length]);
  };

  const dispatch = (scheduledAt: number) => {
    const conn = idle.pop();
    if (conn) send(conn, scheduledAt);
    else waiting.push(scheduledAt);
  };

  await Promise.all(
    Array.from(
      { length: connections },
      () =>
        new Promise<void>((connected, failed) => {
          const conn = openConnection();
          conn.socket.once('connect', () => {
            idle.push(conn);
            connected();
          });
          conn.socket.once('error', failed);
        }),
    ),
  );

  const interval = 1000 / rate;
  const total = Math.round(rate * seconds);
  const start = performance.now();
  await new Promise<void>((done) => {
    const pump = () => {
      const now = performance.now();
      while (result.scheduled < total && start + result.scheduled * interval <= now) {
        dispatch(start + result.scheduled * interval);
        result.scheduled++;
      }
      if (result.scheduled >= total) return done();
      // Timers fire no sooner than ~1 ms: at higher rates each turn sends what fell due, and the
      // latency is still counted from each request's own scheduled time.
      setTimeout(pump, Math.max(0, start + result.scheduled * interval - performance.now()));
    };
    pump();
  });
  if (inFlight > 0 || waiting.length > 0) {
    await new Promise<void>((drained) => {
      const timer = setTimeout(drained, 30_000);
      onDrained = () => {
        if (waiting.length === 0 && inFlight === 0) {
          clearTimeout(timer);
          drained();
        }
      };
    });
  }
  result.errors += waiting.length;
  result.seconds = (performance.now() - start) / 1000;
  for (const conn of open) conn.socket.destroy();
  return result;
}
