import 'reflect-metadata';
import { Global, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ConfigModule, loadConfig } from '../../../src/config';
import { PREDICTION_SINK, PredictionSink } from '../../../src/inference/prediction-sink';
import { PredictionsModule } from '../../../src/predictions/predictions.module';
import { PredictionWriter } from '../../../src/predictions/prediction-writer';
import { ANALYTICS_STORE } from '../../../src/store/analytics-store';
import { ArgusMetrics } from '../../../src/telemetry/metrics';
import { InMemoryStore, predictions, tempHome } from './support';

describe('PredictionsModule', () => {
  it('wires the writer to the store, records through PREDICTION_SINK and flushes on shutdown', async () => {
    const { home, cleanup } = tempHome();
    const store = new InMemoryStore();

    @Global()
    @Module({
      providers: [{ provide: ANALYTICS_STORE, useValue: store }, ArgusMetrics],
      exports: [ANALYTICS_STORE, ArgusMetrics],
    })
    class TestInfrastructureModule {}

    @Module({
      imports: [
        ConfigModule.forRoot(loadConfig({ ARGUS_HOME: home, ARGUS_LOG_FLUSH_MS: '600000' })),
        TestInfrastructureModule,
        PredictionsModule,
      ],
    })
    class AppModule {}

    try {
      const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
      const sink = app.get<PredictionSink>(PREDICTION_SINK);
      const writer = app.get(PredictionWriter);
      expect(sink.shouldLogInputs(4)).toBe(true);
      expect(sink.shouldLogInputs(4096)).toBe(false);
      expect(sink.record(predictions(0, 3))).toBeUndefined(); // async durability: no promise
      expect(writer.metrics().queueRows).toBe(3);

      const text = await app.get(ArgusMetrics).registry.metrics();
      expect(text).toContain('argus_prediction_log_queue_rows 3');

      await app.close(); // beforeApplicationShutdown flushes the queue
      expect(store.predictions.map((p) => p.id)).toEqual(predictions(0, 3).map((p) => p.id));
    } finally {
      cleanup();
    }
  });

  it('provides no PREDICTION_SINK when prediction logging is disabled', async () => {
    const { home, cleanup } = tempHome();

    @Global()
    @Module({
      providers: [{ provide: ANALYTICS_STORE, useValue: new InMemoryStore() }],
      exports: [ANALYTICS_STORE],
    })
    class TestStoreModule {}

    @Module({
      imports: [
        ConfigModule.forRoot(loadConfig({ ARGUS_HOME: home, ARGUS_LOG_PREDICTIONS: 'false' })),
        TestStoreModule,
        PredictionsModule,
      ],
    })
    class AppModule {}

    try {
      const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
      expect(app.get(PREDICTION_SINK, { strict: false })).toBeUndefined();
      expect(app.get(PredictionWriter)).toBeInstanceOf(PredictionWriter);
      await app.close();
    } finally {
      cleanup();
    }
  });
});
