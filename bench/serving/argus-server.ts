import type { LoggerService } from '@nestjs/common';
import { startServer } from '../../src/app/server';
import { loadConfig } from '../../src/config';
import { ModelRuntime } from '../../src/inference/model-runtime';
import { runAsBenchChild } from './child';

/**
 * Argus as a benchmark target: the real `startServer` with the configuration the parent put in
 * the environment (ARGUS_HOME with the model registered as champion, PORT=0, batching settings,
 * prediction logging). Resolves only once the champion is loaded and warmed.
 *
 *   node -r ts-node/register/transpile-only bench/serving/argus-server.ts
 */
/** Quiet while serving, but warnings and errors reach stderr, which the parent shows on failure. */
const stderrLogger: LoggerService = {
  log: () => undefined,
  warn: (message: unknown) => process.stderr.write(`warn: ${String(message)}\n`),
  error: (message: unknown, ...rest: unknown[]) =>
    process.stderr.write(`error: ${String(message)} ${rest.map(String).join(' ')}\n`),
};

runAsBenchChild(async () => {
  const config = loadConfig(process.env);
  const server = await startServer(config, { waitForModels: true, logger: stderrLogger });
  const runtime = server.app.get(ModelRuntime);
  if (!runtime.ready) {
    await server.close();
    throw new Error(`Argus is not ready: ${runtime.notReadyReasons.join('; ')}`);
  }
  return {
    url: server.url,
    close: () => server.close(),
    details: {
      batching: config.batching,
      predictionLog: { enabled: config.predictionLog.enabled },
      loaded: runtime.loadedVersions(),
    },
  };
});
