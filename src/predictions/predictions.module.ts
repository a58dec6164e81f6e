import { Global, Module } from '@nestjs/common';
import { ArgusConfig } from '../config/config';
import { ARGUS_CONFIG } from '../config/config.module';
import { PREDICTION_SINK, PredictionSink } from '../inference/prediction-sink';
import { ANALYTICS_STORE, AnalyticsStore } from '../store/analytics-store';
import { ArgusMetrics } from '../telemetry/metrics';
import { PredictionWriter } from './prediction-writer';

/**
 * Provides the prediction write pipeline (`PredictionWriter`) and, when prediction logging is
 * enabled, the `PREDICTION_SINK` the inference path records into. Global so the inference module
 * and the feedback endpoint can inject either without importing this module.
 *
 * Needs `ANALYTICS_STORE` in scope: the global StoreModule provides it. The writer's own lifecycle
 * hooks replay the spool on start-up (onModuleInit), flush to the store while it is still open
 * (beforeApplicationShutdown), and flush or spool what came after, then close
 * (onApplicationShutdown, after the HTTP server stopped).
 */
@Global()
@Module({
  providers: [
    {
      provide: PredictionWriter,
      useFactory: (config: ArgusConfig, store: AnalyticsStore, metrics?: ArgusMetrics) =>
        PredictionWriter.fromConfig(config, store, { registry: metrics?.registry }),
      inject: [ARGUS_CONFIG, ANALYTICS_STORE, { token: ArgusMetrics, optional: true }],
    },
    {
      // A thin adapter rather than an alias, so Nest runs the writer's lifecycle hooks once.
      // Undefined when logging is disabled: the inference path then records nothing.
      provide: PREDICTION_SINK,
      useFactory: (config: ArgusConfig, writer: PredictionWriter): PredictionSink | undefined =>
        config.predictionLog.enabled
          ? {
              record: (records) => writer.record(records),
              shouldLogInputs: (width) => writer.shouldLogInputs(width),
            }
          : undefined,
      inject: [ARGUS_CONFIG, PredictionWriter],
    },
  ],
  exports: [PredictionWriter, PREDICTION_SINK],
})
export class PredictionsModule {}
