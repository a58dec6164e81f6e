import { Command } from 'commander';
import { InvalidInputError } from '../common/errors';
import { ArgusConfig, loadConfig } from '../config';
import { OnnxRuntime } from '../onnx/onnx-runtime';
import { FeedbackService } from '../predictions/feedback/feedback.service';
import { InputSampler, inputSamplingPolicy } from '../predictions/input-sampling';
import { ModelRegistry } from '../registry/model-registry';
import { AnalyticsStore } from '../store';
import { importFeedbackFile } from './feedback-file';
import { runMigrate } from './migrate';
import { OfflinePredictionLog } from './offline-predict';
import { withStore } from './store-access';

/**
 * `argus migrate` and `argus feedback`, and the store side of `argus predict --log`: the prediction
 * log's commands. They open the configured store themselves (ClickHouse with CLICKHOUSE_URL,
 * otherwise the DuckDB file under ARGUS_HOME); no server is needed.
 */

function print(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** What to do instead when a running server holds the DuckDB file. */
export const USE_HTTP_FEEDBACK =
  'Send the labels through the running server instead: ' +
  "curl -H 'content-type: application/json' -d @labels.json http://127.0.0.1:8080/v1/feedback " +
  '(a JSON array of {"prediction_id", "label" | "value"}, up to 10 000 rows a request), ' +
  'or stop the server and run this command again.';

export const USE_HTTP_PREDICT =
  'Predict through the running server instead (POST /v1/models/<name>/predict logs every ' +
  'prediction), run `argus predict` without --log, or stop the server and run this command again.';

/** `argus predict --log`: the store batches the offline predictions go to. */
export async function withPredictionLog<T>(
  config: ArgusConfig,
  body: (log: OfflinePredictionLog) => Promise<T>,
): Promise<T> {
  const sampler = new InputSampler(inputSamplingPolicy(config.predictionLog.inputs));
  return withStore(config, USE_HTTP_PREDICT, (store: AnalyticsStore) =>
    body({
      write: (records) => store.insertPredictions(records),
      shouldLogInputs: (width) => sampler.shouldLog(width),
      batchRows: config.predictionLog.flushRows,
    }),
  );
}

export function registerLoggingCommands(program: Command, home: () => string | undefined): void {
  const config = (): ArgusConfig =>
    loadConfig({ ...process.env, ARGUS_HOME: home() ?? process.env.ARGUS_HOME });

  program
    .command('migrate')
    .summary('apply pending migrations of the analytical store')
    .description(
      'apply pending migrations of the analytical store (ClickHouse with CLICKHOUSE_URL, else DuckDB ' +
        'under ARGUS_HOME): one line per migration, a progress line every second while a statement ' +
        'runs longer, then a summary; exit 2 if an applied migration was edited',
    )
    .action(async () => {
      await runMigrate(config(), (line) => process.stdout.write(`${line}\n`));
    });

  program
    .command('feedback')
    .summary('import ground-truth labels from a CSV or JSONL file')
    .description(
      'import ground-truth labels in bulk, with the checks of POST /v1/feedback; the whole file is ' +
        'validated first and nothing is written if any row is bad (exit 2, lines listed); prints {"accepted": n}',
    )
    .requiredOption(
      '--file <labels.csv|labels.jsonl>',
      'CSV with a header (prediction_id, label or value, optional ts, source) or JSONL of ' +
        '{"prediction_id", "label" | "value"} objects',
    )
    .option('--source <name>', 'source recorded with rows that do not name one', 'cli')
    .action(async (opts: { file: string; source: string }) => {
      if (opts.source.length > 64) throw new InvalidInputError('--source is at most 64 characters');
      const cfg = config();
      const registry = new ModelRegistry(cfg, new OnnxRuntime());
      const summary = await withStore(cfg, USE_HTTP_FEEDBACK, async (store) => {
        const service = new FeedbackService({
          store,
          manifest: (model, version) => registry.getManifest(model, version).catch(() => undefined),
          // Nothing is queued in this process: every prediction is already in the store.
          flushPredictions: async () => {},
          write: (rows) => store.insertFeedback(rows),
        });
        return importFeedbackFile(service, (rows) => store.insertFeedback(rows), {
          file: opts.file,
          source: opts.source,
        });
      });
      process.stderr.write(
        `${summary.accepted} labels from ${summary.file} written in ${summary.seconds.toFixed(2)} s\n`,
      );
      print({ accepted: summary.accepted });
    });
}
