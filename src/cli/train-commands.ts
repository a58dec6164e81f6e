import { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { ArgusError, errorMessage, InvalidInputError } from '../common/errors';
import { ArgusConfig, loadConfig } from '../config';
import { OnnxRuntime } from '../onnx/onnx-runtime';
import { parseVersion } from '../registry/manifest';
import { ModelRegistry } from '../registry/model-registry';
import type { AnalyticsStore } from '../store/analytics-store';
import { JobStatus, jobSummary, TrainingJob } from '../training/jobs/job-record';
import { TrainingJobService } from '../training/jobs/training-job-service';
import { ProgressBar } from './progress';

/**
 * `argus train`, `argus jobs list|show` and `argus demo traffic`: training runs in this process
 * through the same TrainingJobService the HTTP API uses (no server needed), records land in the
 * same `ARGUS_HOME/jobs/`, so a running server lists them too.
 */

interface TrainFlags {
  name: string;
  data?: string;
  target?: string;
  features?: string;
  fromLog?: boolean;
  since?: string;
  from?: string;
  to?: string;
  version?: string;
  limit?: string;
  includeReference?: boolean;
  kind?: string;
  hidden?: string;
  epochs?: string;
  seed?: string;
  classes?: string;
  command?: string;
  timeoutS?: string;
  task?: string;
  spec?: string;
}

function print(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

function integer(text: string, flag: string, min = 0): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    throw new InvalidInputError(`${flag} must be an integer >= ${min}, got '${text}'`);
  }
  return n;
}

function list(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** The default kind follows the model's task: a regressor retrains as mlp-regressor. */
async function defaultKind(registry: ModelRegistry, name: string): Promise<string> {
  const champion = await registry.resolveAlias(name, 'champion').catch(() => undefined);
  if (champion === undefined) return 'mlp';
  const manifest = await registry.getManifest(name, champion).catch(() => undefined);
  return manifest?.task === 'regression' ? 'mlp-regressor' : 'mlp';
}

/** The job spec the flags describe; undefined = use the model's stored spec. */
async function specFromFlags(
  flags: TrainFlags,
  registry: ModelRegistry,
): Promise<Record<string, unknown> | undefined> {
  const dataFlags = flags.data !== undefined || flags.fromLog === true;
  if (flags.spec !== undefined) {
    if (dataFlags) throw new InvalidInputError('give either --spec or --data / --from-log');
    let text: string;
    try {
      text = readFileSync(flags.spec, 'utf8');
    } catch (err) {
      throw new InvalidInputError(`cannot read --spec '${flags.spec}': ${errorMessage(err)}`);
    }
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch (err) {
      throw new InvalidInputError(`--spec '${flags.spec}' is not valid JSON: ${errorMessage(err)}`);
    }
  }
  if (!dataFlags) {
    if (flags.kind !== undefined || flags.target !== undefined) {
      throw new InvalidInputError('name the data: --data FILE --target COLUMN, or --from-log');
    }
    return undefined;
  }
  if (flags.data !== undefined && flags.fromLog) {
    throw new InvalidInputError('give either --data or --from-log, not both');
  }
  let data: Record<string, unknown>;
  if (flags.data !== undefined) {
    if (flags.target === undefined) {
      throw new InvalidInputError('--data needs --target: the column to predict');
    }
    data = {
      source: 'file',
      path: flags.data,
      target: flags.target,
      ...(flags.features !== undefined ? { features: list(flags.features) } : {}),
    };
  } else {
    data = {
      source: 'log',
      ...(flags.from !== undefined ? { from: flags.from } : { since: flags.since ?? '24h' }),
      ...(flags.to !== undefined ? { to: flags.to } : {}),
      ...(flags.version !== undefined ? { version: parseVersion(flags.version) } : {}),
      ...(flags.limit !== undefined ? { limit: integer(flags.limit, '--limit', 1) } : {}),
      include_reference: flags.includeReference === true,
    };
  }
  const kind =
    flags.kind ??
    (flags.command !== undefined ? 'external' : await defaultKind(registry, flags.name));
  return {
    kind,
    data,
    ...(flags.hidden !== undefined
      ? { hidden: list(flags.hidden).map((h) => integer(h, '--hidden', 1)) }
      : {}),
    ...(flags.epochs !== undefined ? { epochs: integer(flags.epochs, '--epochs', 1) } : {}),
    ...(flags.seed !== undefined ? { seed: integer(flags.seed, '--seed') } : {}),
    ...(flags.classes !== undefined ? { classes: list(flags.classes) } : {}),
    ...(flags.command !== undefined ? { command: flags.command } : {}),
    ...(flags.timeoutS !== undefined ? { timeout_s: Number(flags.timeoutS) } : {}),
    ...(flags.task !== undefined ? { task: flags.task } : {}),
  };
}

/** The analytical store, or null with the reason when it cannot be opened (DuckDB in use). */
async function tryOpenStore(
  cfg: ArgusConfig,
): Promise<{ store: AnalyticsStore | null; problem: string | null }> {
  try {
    const { openAnalyticsStore } = await import('../store/store.module');
    const store = await openAnalyticsStore(cfg);
    if (cfg.store.migrateOnStart) await store.migrate();
    return { store, problem: null };
  } catch (err) {
    return { store: null, problem: errorMessage(err) };
  }
}

function summaryOf(job: TrainingJob): Record<string, unknown> {
  return {
    job_id: job.id,
    model: job.model,
    status: job.status,
    version: job.candidate_version,
    parent_version: job.parent_version,
    promoted: false,
    metrics: job.metrics,
    gate: job.gate
      ? {
          passed: job.gate.passed,
          metric: job.gate.metric,
          candidate: job.gate.candidate,
          champion: job.gate.champion,
          reason: job.gate.reason,
        }
      : null,
    dataset: job.dataset
      ? {
          rows: job.dataset.rows,
          content_sha256: job.dataset.content_sha256,
          split: job.dataset.split,
          class_balance: job.dataset.class_balance,
        }
      : null,
    error: job.error,
  };
}

function progressDetail(job: TrainingJob): string {
  const p = job.progress;
  if (!p) return '';
  const metric =
    p.validationMetric === null
      ? ''
      : p.metricName === 'accuracy'
        ? ` val acc ${(p.validationMetric * 100).toFixed(2)}%`
        : ` val ${p.metricName} ${p.validationMetric.toPrecision(4)}`;
  return `epoch ${p.epoch}/${p.maxEpochs} loss ${p.loss.toPrecision(4)}${metric}`;
}

async function runTrain(flags: TrainFlags, home: string | undefined): Promise<void> {
  const cfg = loadConfig({ ...process.env, ...(home !== undefined ? { ARGUS_HOME: home } : {}) });
  const runtime = new OnnxRuntime();
  const registry = new ModelRegistry(cfg, runtime);
  const spec = await specFromFlags(flags, registry);
  const opened = await tryOpenStore(cfg);
  if (!opened.store) {
    if (flags.fromLog) {
      throw new ArgusError(
        'unavailable',
        `cannot open the analytical store to read the prediction log: ${opened.problem} ` +
          '(a running server holds the DuckDB file; start the job there: POST /v1/models/NAME/train)',
      );
    }
    process.stderr.write(`note: training.* events are not recorded (${opened.problem})\n`);
  }
  const service = new TrainingJobService({
    home: cfg.home,
    registry,
    runtime,
    store: opened.store,
  });
  // Created on the first epoch, when the number of epochs is known.
  const progress: { bar: ProgressBar | null } = { bar: null };
  const stopListening = service.onJobChange((job) => {
    if (!job.progress) return;
    progress.bar ??= new ProgressBar('training', job.progress.maxEpochs);
    progress.bar.update(job.progress.epoch, progressDetail(job));
  });
  let jobId: string | undefined;
  const onSigint = () => {
    if (jobId) void service.cancel(jobId).catch(() => undefined);
  };
  process.once('SIGINT', onSigint);
  try {
    await service.start();
    const queued = await service.submit(flags.name, spec);
    jobId = queued.id;
    for (const line of queued.logs) process.stderr.write(`${line}\n`);
    const job = await service.wait(queued.id);
    progress.bar?.finish(progressDetail(job));
    if (job.status === 'failed') {
      for (const line of job.logs.slice(-10)) process.stderr.write(`${line}\n`);
      process.exitCode = 1;
    } else if (job.status === 'cancelled') {
      process.exitCode = 130;
    }
    print(summaryOf(job));
  } finally {
    process.removeListener('SIGINT', onSigint);
    stopListening();
    await service.close();
    await opened.store?.close();
  }
}

/** A job service over ARGUS_HOME's job files only (listing, showing). */
function readOnlyService(home: string | undefined): TrainingJobService {
  const cfg = loadConfig({ ...process.env, ...(home !== undefined ? { ARGUS_HOME: home } : {}) });
  const runtime = new OnnxRuntime();
  return new TrainingJobService({
    home: cfg.home,
    registry: new ModelRegistry(cfg, runtime),
    runtime,
  });
}

/**
 * Adds `train`, `jobs` and `demo` to the `argus` program. `--home` is read from the program's own
 * options, like every other command.
 */
export function registerTrainingCommands(program: Command): void {
  const home = () => program.opts<{ home?: string }>().home;

  program
    .command('train')
    .description(
      'train a new version of a model in this process (no server needed); prints a JSON summary. ' +
        'The candidate is registered with its metrics and gate verdict, never promoted. ' +
        "Without --data / --from-log / --spec: the model's stored training spec.",
    )
    .requiredOption('--name <name>', 'model name')
    .option('--data <file>', 'training data: CSV with a header, or JSONL of objects')
    .option('--target <column>', 'the column to predict (with --data)')
    .option(
      '--features <a,b,c>',
      "feature columns in input order (default: the champion's, else all but the target)",
    )
    .option('--from-log', "train on the model's labeled predictions from the prediction log")
    .option('--since <duration>', 'with --from-log: the window, e.g. 24h, 7d (default 24h)')
    .option('--from <time>', 'with --from-log: window start (ISO 8601), instead of --since')
    .option('--to <time>', 'with --from-log: window end (default now)')
    .option('--version <n>', "with --from-log: only this version's predictions")
    .option('--limit <rows>', 'with --from-log: at most this many labeled predictions')
    .option(
      '--include-reference',
      "with --from-log: also train on the version's labeled reference sample",
    )
    .addOption(
      new Option(
        '--kind <kind>',
        'trainer (default mlp; mlp-regressor for a regression model)',
      ).choices(['mlp', 'softmax', 'mlp-regressor', 'external']),
    )
    .option('--hidden <widths>', 'hidden layer widths, e.g. 128 or 64,32')
    .option('--epochs <n>', 'maximum epochs (early stopping may end sooner)')
    .option('--seed <n>', 'seed for the split and the weights (a run is reproducible)')
    .option(
      '--classes <a,b,c>',
      "class names in output order (default: the champion's, else the data's)",
    )
    .option(
      '--command <template>',
      'external trainer, e.g. "python3 train.py --train {train} --val {val} --out {model}"',
    )
    .option('--timeout-s <seconds>', 'external trainer time limit (default 600)')
    .addOption(
      new Option(
        '--task <task>',
        'external trainer: the task when the model has no champion',
      ).choices(['classification', 'regression']),
    )
    .option('--spec <spec.json>', 'a whole training spec as JSON (see docs/training.md)')
    .action(async (flags: TrainFlags) => runTrain(flags, home()));

  const jobs = program.command('jobs').description('training jobs (ARGUS_HOME/jobs)');
  jobs
    .command('list')
    .description('list training jobs, newest first (without their logs)')
    .option('--model <name>', 'only this model')
    .addOption(
      new Option('--status <status>', 'only this status').choices([
        'queued',
        'running',
        'succeeded',
        'failed',
        'cancelled',
      ]),
    )
    .option('--limit <n>', 'at most this many', '100')
    .action(async (opts: { model?: string; status?: JobStatus; limit: string }) => {
      const service = readOnlyService(home());
      try {
        const found = await service.list({
          model: opts.model,
          status: opts.status,
          limit: integer(opts.limit, '--limit', 1),
        });
        print(found.map(jobSummary));
      } finally {
        await service.close();
      }
    });
  jobs
    .command('show')
    .description('one job: status, progress, metrics, gate, dataset, logs')
    .argument('<id>', 'job id')
    .action(async (id: string) => {
      const service = readOnlyService(home());
      try {
        print(await service.get(id));
      } finally {
        await service.close();
      }
    });

  const demo = program.command('demo').description('demonstrations against a running Argus');
  demo
    .command('traffic')
    .description(
      'send real MNIST test digits to a running Argus at a steady rate, and their true labels as ' +
        'feedback after a delay; prints a summary. drift: inputs shift over the run (rotation, ' +
        'noise, inverted intensity); attack: half the queries are extraction-style probes from one client.',
    )
    .option('--model <name>', 'model to call', 'mnist')
    .option('--rate <per-second>', 'requests per second', '200')
    .option('--duration <seconds>', 'how long to send', '60')
    .addOption(
      new Option('--scenario <scenario>', 'traffic shape')
        .choices(['normal', 'drift', 'attack'])
        .default('normal'),
    )
    .option('--url <url>', 'Argus base URL', 'http://127.0.0.1:8080')
    .option('--feedback-delay-ms <ms>', 'delay before the true label is sent', '2000')
    .option('--seed <n>', 'seed for digit order, noise and probes', '1')
    .option('--allow-remote', 'allow a non-loopback URL (sends a lot of requests)')
    .action(
      async (opts: {
        model: string;
        rate: string;
        duration: string;
        scenario: 'normal' | 'drift' | 'attack';
        url: string;
        feedbackDelayMs: string;
        seed: string;
        allowRemote?: boolean;
      }) => {
        const { runDemoTraffic } = await import('./demo-traffic');
        const rate = Number(opts.rate);
        const duration = Number(opts.duration);
        if (!(rate > 0 && rate <= 10_000))
          throw new InvalidInputError('--rate must be in (0, 10000]');
        if (!(duration > 0 && duration <= 86_400)) {
          throw new InvalidInputError('--duration must be in (0, 86400] seconds');
        }
        const bar = new ProgressBar(`traffic ${opts.scenario}`, duration);
        const controller = new AbortController();
        const onSigint = () => controller.abort();
        process.once('SIGINT', onSigint);
        try {
          const summary = await runDemoTraffic({
            url: opts.url,
            model: opts.model,
            rate,
            durationSeconds: duration,
            scenario: opts.scenario,
            feedbackDelayMs: integer(opts.feedbackDelayMs, '--feedback-delay-ms'),
            seed: integer(opts.seed, '--seed'),
            allowRemote: opts.allowRemote === true,
            signal: controller.signal,
            onTick: (elapsed, stats) =>
              bar.update(elapsed, `sent ${stats.sent} ok ${stats.ok} errors ${stats.errors}`),
          });
          bar.finish();
          print(summary);
          if (summary.ok === 0) process.exitCode = 1;
        } finally {
          process.removeListener('SIGINT', onSigint);
        }
      },
    );
}
