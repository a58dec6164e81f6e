import 'reflect-metadata';
import { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { ArgusError, errorMessage } from '../common/errors';
import { ArgusConfig, ConfigError, loadConfig } from '../config';
import { OnnxRuntime } from '../onnx/onnx-runtime';
import { ModelAlias, parseVersion } from '../registry/manifest';
import { ModelRegistry } from '../registry/model-registry';
import { registerLoggingCommands, withPredictionLog } from './logging-commands';
import {
  readReferenceCsv,
  registerMonitoringCommands,
  storeReferenceProfile,
} from './monitoring-commands';
import { OfflinePredictionLog, predictFile } from './offline-predict';
import { registerTrainingCommands } from './train-commands';

/**
 * `argus`: the second front door. Every command calls the same services as the HTTP API; exit
 * codes are 0 on success, 2 for a mistake in the input (bad file, bad name), 1 for anything else.
 */

function config(overrides: Record<string, string | undefined> = {}): ArgusConfig {
  return loadConfig({
    ...process.env,
    ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)),
  });
}

function registry(cfg: ArgusConfig): ModelRegistry {
  return new ModelRegistry(cfg, new OnnxRuntime());
}

function print(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

function readJsonFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ArgusError('invalid', `cannot read ${what} '${path}': ${errorMessage(err)}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ArgusError('invalid', `${what} '${path}' is not valid JSON: ${errorMessage(err)}`);
  }
}

const program = new Command();
program
  .name('argus')
  .description(
    'Serve ONNX models and watch them.\nConfiguration comes from environment variables (see README) or ARGUS_CONFIG=file.yaml.',
  )
  .option('--home <dir>', 'Argus home directory (ARGUS_HOME, default ./.argus)')
  .showHelpAfterError();

const home = () => program.opts<{ home?: string }>().home;

program
  .command('serve')
  .description('start the HTTP server (KServe V2, v1 predict, admin API, /metrics, /docs)')
  .option('-p, --port <port>', 'port to listen on (PORT, default 8080)')
  .option(
    '--demo',
    'on an empty registry, train (or reuse) the MNIST demo classifier and serve it as `mnist`',
  )
  .action(async (opts: { port?: string; demo?: boolean }) => {
    const { startServer } = await import('../app/server');
    const cfg = config({ ARGUS_HOME: home(), PORT: opts.port });
    const server = await startServer(cfg);
    server.app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
    if (opts.demo) {
      const { ensureDemoModelRegistered } = await import('./demo-model');
      await ensureDemoModelRegistered(server.app.get(ModelRegistry), cfg.home);
    }
  });

const models = program.command('models').description('manage the model registry');

models
  .command('register')
  .description('register an ONNX file as the next version of a model; prints {"name","version"}')
  .requiredOption('--name <name>', 'model name (letters, digits, _ - .)')
  .requiredOption('--file <model.onnx>', 'the ONNX model file')
  .option(
    '--metadata <meta.json>',
    'JSON: task, feature_names, class_names, batching, description, metadata',
  )
  .addOption(
    new Option('--alias <alias>', 'point an alias at the new version').choices([
      'champion',
      'challenger',
      'shadow',
      'canary',
    ]),
  )
  .option(
    '--reference <data.csv>',
    'reference rows (header = feature names; a label/target column is the ground truth): stored as the version profile monitoring compares against',
  )
  .action(
    async (opts: {
      name: string;
      file: string;
      metadata?: string;
      alias?: ModelAlias;
      reference?: string;
    }) => {
      const reference = opts.reference ? await readReferenceCsv(opts.reference) : undefined;
      let bytes: Buffer;
      try {
        bytes = readFileSync(opts.file);
      } catch (err) {
        throw new ArgusError(
          'invalid',
          `cannot read model file '${opts.file}': ${errorMessage(err)}`,
        );
      }
      const metadata = opts.metadata ? readJsonFile(opts.metadata, 'metadata file') : undefined;
      const manifest = await registry(config({ ARGUS_HOME: home() })).register(
        opts.name,
        bytes,
        metadata,
        { alias: opts.alias },
      );
      const profile =
        reference &&
        (await storeReferenceProfile(
          registry(config({ ARGUS_HOME: home() })),
          manifest.name,
          manifest.version,
          reference,
        ));
      print({
        name: manifest.name,
        version: manifest.version,
        ...(profile
          ? {
              reference: { rows: profile.profile.rows, cbpe_calibration: profile.cbpe_calibration },
            }
          : {}),
      });
    },
  );

models
  .command('list')
  .description('list models with their versions and aliases')
  .action(async () => {
    const list = await registry(config({ ARGUS_HOME: home() })).listModels();
    print(
      list.map((m) => ({
        name: m.name,
        aliases: m.aliases,
        versions: m.versions.map((v) => ({
          version: v.version,
          task: v.task,
          created_at: v.created_at,
          sha256: v.sha256,
        })),
      })),
    );
  });

models
  .command('promote')
  .description(
    'point an alias (default champion) at a version; a running server switches without dropping requests',
  )
  .requiredOption('--name <name>', 'model name')
  .requiredOption('--version <version>', 'version number')
  .addOption(
    new Option('--alias <alias>', 'alias to move')
      .choices(['champion', 'challenger', 'shadow', 'canary'])
      .default('champion'),
  )
  .action(async (opts: { name: string; version: string; alias: ModelAlias }) => {
    const aliases = await registry(config({ ARGUS_HOME: home() })).setAlias(
      opts.name,
      opts.alias,
      parseVersion(opts.version),
    );
    print({ name: opts.name, aliases });
  });

models
  .command('delete')
  .description('delete a version (refused for the champion)')
  .requiredOption('--name <name>', 'model name')
  .requiredOption('--version <version>', 'version number')
  .action(async (opts: { name: string; version: string }) => {
    const version = parseVersion(opts.version);
    await registry(config({ ARGUS_HOME: home() })).deleteVersion(opts.name, version);
    print({ name: opts.name, deleted: version });
  });

program
  .command('predict')
  .description(
    'run a registered model over a CSV or JSONL file without a server (streaming, constant memory)',
  )
  .requiredOption('--model <name>', 'model name')
  .option('--version <version>', 'version (default: the champion)')
  .requiredOption(
    '--input <rows.csv|rows.jsonl>',
    'CSV with a header, or JSONL of arrays or objects',
  )
  .requiredOption('--output <out.jsonl>', 'where to write one JSON prediction per line')
  .option('--chunk-rows <n>', 'rows per ONNX Runtime call', '1024')
  .option(
    '--log',
    'also write every prediction to the prediction log (the analytical store; route and protocol ' +
      '`cli`); the prediction_ids in the output file are the stored ids',
  )
  .action(
    async (opts: {
      model: string;
      version?: string;
      input: string;
      output: string;
      chunkRows: string;
      log?: boolean;
    }) => {
      const cfg = config({ ARGUS_HOME: home() });
      const chunkRows = Number(opts.chunkRows);
      if (!Number.isInteger(chunkRows) || chunkRows < 1)
        throw new ArgusError('invalid', '--chunk-rows must be a positive integer');
      const run = (log?: OfflinePredictionLog) =>
        predictFile(registry(cfg), new OnnxRuntime(), {
          model: opts.model,
          version: opts.version !== undefined ? parseVersion(opts.version) : undefined,
          input: opts.input,
          output: opts.output,
          chunkRows,
          log,
        });
      const summary = opts.log ? await withPredictionLog(cfg, run) : await run();
      process.stderr.write(
        `${summary.rows} rows predicted by ${summary.model}@${summary.version} in ${summary.seconds.toFixed(2)} s` +
          (opts.log ? `; ${summary.logged} logged (request_id ${summary.requestId ?? ''})` : '') +
          '\n',
      );
    },
  );

registerLoggingCommands(program, home);

registerTrainingCommands(program);

registerMonitoringCommands(program);

export async function main(argv: string[]): Promise<void> {
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`error: ${errorMessage(err)}\n`);
    process.exitCode =
      err instanceof ArgusError && ['invalid', 'not_found', 'conflict'].includes(err.kind) ? 2 : 1;
  }
}

if (require.main === module) void main(process.argv);
