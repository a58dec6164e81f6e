import {
  BeforeApplicationShutdown,
  Injectable,
  Logger,
  Module,
  OnModuleInit,
} from '@nestjs/common';
import { ARGUS_CONFIG, ArgusConfig } from '../config';
import { OnnxRuntime } from '../onnx/onnx-runtime';
import { ModelRegistry } from '../registry/model-registry';
import { RegistryModule } from '../registry/registry.module';
import { ANALYTICS_STORE, AnalyticsStore } from '../store/analytics-store';
import { TrainingJobService } from './jobs/training-job-service';
import { TrainingController } from './training.controller';

/**
 * Recovers jobs a previous process left running (marks them failed) at start-up, and stops this
 * process's jobs before shutdown — `beforeApplicationShutdown`, so their final records and
 * `training.*` events are written while the store is still open.
 */
@Injectable()
class TrainingJobsLifecycle implements OnModuleInit, BeforeApplicationShutdown {
  constructor(private readonly jobs: TrainingJobService) {}

  async onModuleInit(): Promise<void> {
    await this.jobs.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.jobs.close();
  }
}

/** `POST /v1/models/{name}/train`, `GET /v1/jobs[/{id}]`, `POST /v1/jobs/{id}/cancel`. */
@Module({
  imports: [RegistryModule],
  providers: [
    {
      provide: TrainingJobService,
      useFactory: (
        config: ArgusConfig,
        registry: ModelRegistry,
        runtime: OnnxRuntime,
        store: AnalyticsStore | undefined,
      ) =>
        new TrainingJobService({
          home: config.home,
          registry,
          runtime,
          store: store ?? null,
          logger: new Logger('training'),
        }),
      inject: [
        ARGUS_CONFIG,
        ModelRegistry,
        OnnxRuntime,
        { token: ANALYTICS_STORE, optional: true },
      ],
    },
    TrainingJobsLifecycle,
  ],
  controllers: [TrainingController],
  exports: [TrainingJobService],
})
export class TrainingModule {}
