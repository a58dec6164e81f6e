import { ChildProcess, spawn } from 'node:child_process';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { get as httpGet } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/**
 * A real `clickhouse-server` (Debian package, 18.16 on these machines) on loopback ports with its
 * own temporary data directory. Used once per jest run by global-setup.ts, and by fault tests that
 * need a server of their own to SIGKILL and start again on the same data dir and ports.
 */

export const INSTALL_HINT =
  'clickhouse-server is not installed: run `apt-get install clickhouse-server` ' +
  '(or set CLICKHOUSE_URL to use an existing server, or CLICKHOUSE_SERVER_BIN to point at the binary)';

/** The command that starts a server: the standalone binary, or the multi-tool with `server`. */
export interface ServerCommand {
  file: string;
  args: string[];
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where Debian puts the binaries when they are not on PATH. */
const SYSTEM_DIRS = ['/usr/bin', '/usr/sbin'];

export function findClickHouseServer(
  env: NodeJS.ProcessEnv = process.env,
  systemDirs: readonly string[] = SYSTEM_DIRS,
): ServerCommand {
  const override = env.CLICKHOUSE_SERVER_BIN;
  if (override) {
    if (!isExecutable(override)) {
      throw new Error(`CLICKHOUSE_SERVER_BIN=${override} is not an executable file`);
    }
    return { file: override, args: [] };
  }
  const dirs = [...(env.PATH ?? '').split(delimiter), ...systemDirs];
  for (const dir of dirs) {
    if (dir && isExecutable(join(dir, 'clickhouse-server'))) {
      return { file: join(dir, 'clickhouse-server'), args: [] };
    }
  }
  for (const dir of dirs) {
    if (dir && isExecutable(join(dir, 'clickhouse'))) {
      return { file: join(dir, 'clickhouse'), args: ['server'] };
    }
  }
  throw new Error(INSTALL_HINT);
}

/** A currently free loopback TCP port (the OS picks; closed again before returning). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function serverConfigXml(dir: string, httpPort: number, tcpPort: number): string {
  // The minimum 18.16 needs (DESIGN.md §4), plus small caches: these machines are shared.
  return `<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>${dir}/log/server.log</log>
        <errorlog>${dir}/log/error.log</errorlog>
        <console>0</console>
    </logger>
    <http_port>${httpPort}</http_port>
    <tcp_port>${tcpPort}</tcp_port>
    <listen_host>127.0.0.1</listen_host>
    <path>${dir}/data/</path>
    <tmp_path>${dir}/tmp/</tmp_path>
    <user_files_path>${dir}/user_files/</user_files_path>
    <format_schema_path>${dir}/format_schemas/</format_schema_path>
    <users_config>${dir}/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mark_cache_size>67108864</mark_cache_size>
    <uncompressed_cache_size>67108864</uncompressed_cache_size>
    <max_concurrent_queries>50</max_concurrent_queries>
</yandex>
`;
}

const USERS_XML = `<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_threads>2</max_threads>
            <background_pool_size>4</background_pool_size>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>127.0.0.1</ip>
                <ip>::1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default></default>
    </quotas>
</yandex>
`;

export interface ClickHouseServerOptions {
  /** Directory for config, data and logs; a new temporary one when absent. */
  dir?: string;
  httpPort?: number;
  tcpPort?: number;
  /** How long to wait for /ping. Default 30 s (it is up in about a second). */
  startTimeoutMs?: number;
}

const RUNNING = new Set<ClickHouseServer>();

// If jest dies without teardown, do not leave servers behind.
process.once('exit', () => {
  for (const server of RUNNING) server.killNow();
});

/**
 * One server process. `start()` again after `kill()` or `stop()` brings it back on the same data
 * directory and ports, which is what the fault tests need.
 */
export class ClickHouseServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly dir: string,
    readonly httpPort: number,
    readonly tcpPort: number,
    private readonly ownsDir: boolean,
    private readonly command: ServerCommand,
    private readonly startTimeoutMs: number,
  ) {}

  /** Starts a server. Without fixed ports, retries on fresh ports if one was taken meanwhile. */
  static async start(options: ClickHouseServerOptions = {}): Promise<ClickHouseServer> {
    const command = findClickHouseServer();
    const fixedPorts = options.httpPort !== undefined || options.tcpPort !== undefined;
    let lastError: unknown;
    for (let attempt = 0; attempt < (fixedPorts ? 1 : 3); attempt++) {
      const ownsDir = options.dir === undefined;
      const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'argus-clickhouse-'));
      const server = new ClickHouseServer(
        dir,
        options.httpPort ?? (await freePort()),
        options.tcpPort ?? (await freePort()),
        ownsDir,
        command,
        options.startTimeoutMs ?? 30_000,
      );
      try {
        await server.start();
        return server;
      } catch (err) {
        lastError = err;
        await server.dispose();
      }
    }
    throw lastError;
  }

  get url(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** (Re)starts the process on this server's directory and ports; resolves when /ping answers. */
  async start(): Promise<void> {
    if (this.child !== undefined) return;
    for (const sub of ['data', 'tmp', 'log', 'user_files', 'format_schemas']) {
      mkdirSync(join(this.dir, sub), { recursive: true });
    }
    const configPath = join(this.dir, 'config.xml');
    writeFileSync(configPath, serverConfigXml(this.dir, this.httpPort, this.tcpPort));
    writeFileSync(join(this.dir, 'users.xml'), USERS_XML);

    const child = spawn(this.command.file, [...this.command.args, `--config-file=${configPath}`], {
      cwd: this.dir,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-4000);
    });
    this.child = child;
    RUNNING.add(this);
    let exitInfo: string | undefined;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        exitInfo = signal !== null ? `signal ${signal}` : `exit code ${String(code)}`;
        if (this.child === child) this.child = undefined;
        RUNNING.delete(this);
        resolve();
      });
      child.once('error', (err) => {
        exitInfo = err.message;
        if (this.child === child) this.child = undefined;
        RUNNING.delete(this);
        resolve();
      });
    });

    const deadline = Date.now() + this.startTimeoutMs;
    while (Date.now() < deadline) {
      if (exitInfo !== undefined) {
        throw new Error(
          `clickhouse-server (${this.command.file}) exited during start-up (${exitInfo}) on ports ` +
            `${this.httpPort}/${this.tcpPort}:\n${stderr}${this.errorLogTail()}`,
        );
      }
      if (await this.answersPing()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    this.killNow();
    await this.exited;
    throw new Error(
      `clickhouse-server did not answer ${this.url}/ping within ${this.startTimeoutMs} ms:\n` +
        `${stderr}${this.errorLogTail()}`,
    );
  }

  /**
   * GET /ping on a connection of its own that closes after the answer: a kept-alive connection
   * (as fetch would leave) makes a later graceful stop wait for it for seconds.
   */
  private answersPing(): Promise<boolean> {
    return new Promise((resolve) => {
      const request = httpGet(
        { host: '127.0.0.1', port: this.httpPort, path: '/ping', agent: false, timeout: 1000 },
        (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () => resolve(response.statusCode === 200 && body.startsWith('Ok')));
          response.on('error', () => resolve(false));
        },
      );
      request.on('timeout', () => request.destroy());
      request.on('error', () => resolve(false));
    });
  }

  private errorLogTail(): string {
    const file = join(this.dir, 'log', 'error.log');
    if (!existsSync(file)) return '';
    return `\n--- ${file} (tail) ---\n${readFileSync(file, 'utf8').slice(-3000)}`;
  }

  /** Sends a signal (SIGKILL for a crash) and waits until the process is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.child === undefined) return;
    this.child.kill(signal);
    await this.exited;
  }

  /** Graceful stop (SIGTERM), SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 15_000): Promise<void> {
    if (this.child === undefined) return;
    const child = this.child;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Synchronous last resort (process exit). */
  killNow(): void {
    this.child?.kill('SIGKILL');
  }

  /**
   * Stops the server and deletes its directory if this server created it. A server whose data is
   * about to be deleted is killed rather than shut down gracefully: nothing needs flushing, and a
   * graceful stop waits for idle client connections.
   */
  async dispose(): Promise<void> {
    if (this.ownsDir) {
      await this.kill('SIGKILL');
      rmSync(this.dir, { recursive: true, force: true });
    } else {
      await this.stop();
    }
  }
}
