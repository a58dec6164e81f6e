import { spawn } from 'node:child_process';

/**
 * Runs an external trainer's command: argv spawned directly (no shell, so substituted paths are
 * never interpreted), in its own process group, so a timeout or a cancellation can stop the
 * command and everything it started (`kill(-pid)`), output captured line by line.
 */
export interface ExternalCommandOptions {
  argv: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs: number;
  signal?: AbortSignal;
  onLine: (stream: 'stdout' | 'stderr', line: string) => void;
  /** Between SIGTERM and SIGKILL when the command must stop. */
  killGraceMs?: number;
}

export interface ExternalCommandResult {
  exitCode: number | null;
  /** The signal that ended the command, if one did. */
  exitSignal: NodeJS.Signals | null;
  timedOut: boolean;
  cancelled: boolean;
}

const MAX_LINE_CHARS = 4000;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (err) {
    // ESRCH: the group is gone already, which is what we wanted.
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

class LineSplitter {
  private rest = '';

  constructor(private readonly emit: (line: string) => void) {}

  push(chunk: string): void {
    const parts = (this.rest + chunk).split('\n');
    this.rest = parts.pop() ?? '';
    for (const part of parts) this.emit(part);
    if (this.rest.length > MAX_LINE_CHARS) {
      this.emit(this.rest);
      this.rest = '';
    }
  }

  end(): void {
    if (this.rest !== '') this.emit(this.rest);
    this.rest = '';
  }
}

export function runExternalCommand(
  options: ExternalCommandOptions,
): Promise<ExternalCommandResult> {
  const grace = options.killGraceMs ?? 2000;
  return new Promise<ExternalCommandResult>((resolve, reject) => {
    if (options.signal?.aborted) {
      resolve({ exitCode: null, exitSignal: null, timedOut: false, cancelled: true });
      return;
    }
    const child = spawn(options.argv[0], options.argv.slice(1), {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let timedOut = false;
    let cancelled = false;
    let exited = false;
    let killTimer: NodeJS.Timeout | undefined;
    const emit = (stream: 'stdout' | 'stderr') => (line: string) =>
      options.onLine(
        stream,
        line.length > MAX_LINE_CHARS
          ? `${line.slice(0, MAX_LINE_CHARS)}…`
          : line.replace(/\r$/, ''),
      );
    const out = new LineSplitter(emit('stdout'));
    const err = new LineSplitter(emit('stderr'));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => out.push(chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => err.push(chunk));

    const stop = () => {
      if (exited || child.pid === undefined) return;
      killGroup(child.pid, 'SIGTERM');
      killTimer = setTimeout(() => {
        if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
      }, grace);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, options.timeoutMs);
    const onAbort = () => {
      cancelled = true;
      stop();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });

    let exitCode: number | null = null;
    let exitSignal: NodeJS.Signals | null = null;
    child.on('error', (error) => {
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', onAbort);
      reject(new Error(`cannot start '${options.argv[0]}': ${error.message}`));
    });
    child.on('exit', (code, signal) => {
      exited = true;
      exitCode = code;
      exitSignal = signal;
      // Whatever the command left running in its group (a daemonised helper, a data loader)
      // goes with it; its pipes then close and 'close' below fires.
      if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
    });
    child.on('close', () => {
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', onAbort);
      out.end();
      err.end();
      resolve({ exitCode, exitSignal, timedOut, cancelled });
    });
  });
}
