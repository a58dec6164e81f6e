import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/**
 * The small IPC protocol between `bench/serving/run.ts` and each server it forks (Argus, the bare
 * Fastify baseline). The child says when it listens; the parent asks for CPU and event-loop
 * figures around each measurement; the child exits when told to, on SIGTERM/SIGINT, or as soon
 * as the parent goes away (the IPC channel closes), so no server outlives a crashed benchmark.
 */

export interface ReadyMessage {
  type: 'ready';
  url: string;
  pid: number;
  /** What the server runs with, for the results file (session options, batching...). */
  details: Record<string, unknown>;
}

export interface StatsMessage {
  type: 'stats';
  /** process.cpuUsage() in microseconds since the child started. */
  cpuUserMicros: number;
  cpuSystemMicros: number;
  /**
   * CPU time of the main thread alone (the event loop: HTTP, JSON, inference, and whatever else
   * runs between requests), ms since the child started; NaN off Linux.
   */
  mainThreadCpuMs: number;
  /** Cumulative event-loop idle/active milliseconds (performance.eventLoopUtilization()). */
  eluIdleMs: number;
  eluActiveMs: number;
  rssBytes: number;
}

export interface FailedMessage {
  type: 'failed';
  error: string;
}

export type ChildMessage = ReadyMessage | StatsMessage | FailedMessage;
export type ParentMessage = { type: 'stats' } | { type: 'shutdown' };

/** USER_HZ: the unit of utime/stime in /proc stat files on Linux. */
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * CPU time (user + system) so far, ms, of what a /proc stat file describes: `/proc/<pid>/stat` a
 * whole process, `/proc/thread-self/stat` the calling thread. NaN when it cannot be read (not
 * Linux, or the process ended).
 */
export function procStatCpuMs(statFile: string): number {
  try {
    const stat = readFileSync(statFile, 'utf8');
    // Fields after the parenthesised command name: state is 3rd, utime 14th, stime 15th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}

/**
 * CPU time of the calling thread so far, ms. Node 20 has no per-thread `cpuUsage`; called on the
 * main thread it measures the event loop's thread apart from libuv's pool, V8's helpers and native
 * libraries' threads.
 */
export function threadCpuMs(): number {
  return procStatCpuMs('/proc/thread-self/stat');
}

function send(message: ChildMessage): void {
  process.send?.(message);
}

function isParentMessage(value: unknown): value is ParentMessage {
  if (typeof value !== 'object' || value === null) return false;
  const type = (value as { type?: unknown }).type;
  return type === 'stats' || type === 'shutdown';
}

/**
 * Runs a server as a benchmark child: `start` listens and returns its URL and a close function.
 * Without an IPC channel (started by hand) it just prints the URL and runs until Ctrl-C.
 */
export function runAsBenchChild(
  start: () => Promise<{ url: string; close(): Promise<void>; details: Record<string, unknown> }>,
): void {
  let closing = false;
  let close: (() => Promise<void>) | undefined;
  const exit = (code: number): void => {
    if (closing) return;
    closing = true;
    const hardStop = setTimeout(() => process.exit(code), 25_000);
    hardStop.unref();
    (close ? close() : Promise.resolve())
      .catch((err: unknown) => process.stderr.write(`close failed: ${String(err)}\n`))
      .finally(() => process.exit(code));
  };
  process.on('SIGTERM', () => exit(0));
  process.on('SIGINT', () => exit(0));
  process.on('disconnect', () => exit(0));
  process.on('message', (raw: unknown) => {
    if (!isParentMessage(raw)) return;
    if (raw.type === 'shutdown') return exit(0);
    const cpu = process.cpuUsage();
    const elu = performance.eventLoopUtilization();
    send({
      type: 'stats',
      cpuUserMicros: cpu.user,
      cpuSystemMicros: cpu.system,
      mainThreadCpuMs: threadCpuMs(),
      eluIdleMs: elu.idle,
      eluActiveMs: elu.active,
      rssBytes: process.memoryUsage.rss(),
    });
  });

  start()
    .then((server) => {
      close = server.close;
      if (closing) return exit(0);
      if (process.send) {
        send({ type: 'ready', url: server.url, pid: process.pid, details: server.details });
      } else {
        process.stdout.write(`listening on ${server.url}\n`);
      }
    })
    .catch((err: unknown) => {
      const error = err instanceof Error ? (err.stack ?? err.message) : String(err);
      send({ type: 'failed', error });
      process.stderr.write(`${error}\n`);
      exit(1);
    });
}
