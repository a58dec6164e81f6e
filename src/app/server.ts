import 'reflect-metadata';
import { ConsoleLogger, Logger, LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { trace } from '@opentelemetry/api';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { ArgusConfig } from '../config';
import { ErrorFilter } from '../http/error-filter';
import { PredictRoutes } from '../inference/http/predict-routes';
import { requestIdFor } from '../inference/http/request-context';
import { ModelRuntime } from '../inference/model-runtime';
import { AppModule } from './app.module';
import { disableAllocationSitePretenuring } from './serving-heap';

export interface RunningServer {
  app: NestFastifyApplication;
  url: string;
  close(): Promise<void>;
}

export interface ServerOptions {
  logger?: LoggerService | false;
  /** Resolve only after every champion is loaded (tests); by default the server listens first. */
  waitForModels?: boolean;
}

/** Nest's start-up chatter (every mapped route, every module) is noise in production logs. */
const QUIET_CONTEXTS = new Set([
  'RoutesResolver',
  'RouterExplorer',
  'InstanceLoader',
  'NestFactory',
  'NestApplication',
]);

class ArgusLogger extends ConsoleLogger {
  override log(message: unknown, context?: string): void {
    if (context && QUIET_CONTEXTS.has(context)) return;
    super.log(message, context);
  }
}

/** Structured JSON logs, one object per line. */
export function jsonLogger(): LoggerService {
  return new ArgusLogger({ json: true, colors: false });
}

/** Builds the Nest application on Fastify, listens, then loads the models. */
export async function startServer(
  config: ArgusConfig,
  options: ServerOptions = {},
): Promise<RunningServer> {
  disableAllocationSitePretenuring();
  const adapter = new FastifyAdapter({
    bodyLimit: config.server.bodyLimitBytes,
    genReqId: requestIdFor,
    requestIdHeader: false,
    logger: false,
    routerOptions: { maxParamLength: 512 },
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), adapter, {
    logger: options.logger ?? jsonLogger(),
    bufferLogs: false,
  });
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addContentTypeParser(
    'application/octet-stream',
    { parseAs: 'buffer', bodyLimit: config.server.bodyLimitBytes },
    (_req, body, done) => done(null, body),
  );
  // Callback style: an async hook costs a promise and an extra microtask hop per response.
  fastify.addHook('onSend', (req, reply, payload, done) => {
    void reply.header('x-request-id', req.id);
    const span = trace.getActiveSpan()?.spanContext();
    if (span && trace.isSpanContextValid(span)) void reply.header('x-trace-id', span.traceId);
    done(null, payload);
  });
  app.useGlobalFilters(new ErrorFilter());
  app.get(PredictRoutes).register(fastify);

  await app.listen(config.server.port, config.server.host);
  const address = fastify.server.address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  const url = `http://${config.server.host === '0.0.0.0' ? '127.0.0.1' : config.server.host}:${port}`;
  const logger = new Logger('argus');
  logger.log(`listening on ${url} (ARGUS_HOME=${config.home})`);
  if (config.server.loopbackOnly) {
    logger.warn(
      'ARGUS_ADMIN_TOKEN is not set: listening on 127.0.0.1 only; set it to accept remote connections',
    );
  }
  const runtime = app.get(ModelRuntime);
  const loading = runtime
    .start()
    .catch((err: unknown) => logger.error(`model loading failed: ${(err as Error).message}`));
  if (options.waitForModels) await loading;
  return { app, url, close: () => app.close() };
}
