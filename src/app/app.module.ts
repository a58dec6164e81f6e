import { DynamicModule, Module } from '@nestjs/common';
import { ArgusConfig, ConfigModule } from '../config';
import { InferenceModule } from '../inference/inference.module';
import { MonitoringModule } from '../monitoring/monitoring.module';
import { FeedbackModule } from '../predictions/feedback/feedback.module';
import { PredictionsModule } from '../predictions/predictions.module';
import { RegistryModule } from '../registry/registry.module';
import { StoreModule } from '../store/store.module';
import { TelemetryModule } from '../telemetry/telemetry.module';
import { TrainingModule } from '../training/training.module';
import { DocsController } from './docs.controller';

@Module({})
export class AppModule {
  static forRoot(config: ArgusConfig): DynamicModule {
    return {
      module: AppModule,
      // StoreModule first: it closes last on shutdown, after the writer flushed into it.
      imports: [
        ConfigModule.forRoot(config),
        TelemetryModule,
        StoreModule,
        PredictionsModule,
        RegistryModule,
        FeedbackModule,
        InferenceModule,
        TrainingModule,
        MonitoringModule,
      ],
      controllers: [DocsController],
    };
  }
}
