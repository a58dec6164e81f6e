import { Module } from '@nestjs/common';
import { ModelRegistry } from '../../registry/model-registry';
import { RegistryModule } from '../../registry/registry.module';
import { ANALYTICS_STORE, AnalyticsStore } from '../../store/analytics-store';
import { PredictionWriter } from '../prediction-writer';
import { FeedbackController } from './feedback.controller';
import { FeedbackService } from './feedback.service';

@Module({
  imports: [RegistryModule],
  providers: [
    {
      provide: FeedbackService,
      useFactory: (store: AnalyticsStore, registry: ModelRegistry, writer: PredictionWriter) =>
        new FeedbackService({
          store,
          manifest: (model, version) => registry.getManifest(model, version).catch(() => undefined),
          flushPredictions: () => writer.predictions.flush(),
          write: (rows) => writer.feedback.appendDurable(rows),
        }),
      inject: [ANALYTICS_STORE, ModelRegistry, PredictionWriter],
    },
  ],
  controllers: [FeedbackController],
  exports: [FeedbackService],
})
export class FeedbackModule {}
