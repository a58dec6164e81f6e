import { Module } from '@nestjs/common';
import { RegistryModule } from '../registry/registry.module';
import { V1PredictController } from './http/v1.controller';
import { V2Controller } from './http/v2.controller';
import { InferenceService } from './inference.service';
import { ModelRuntime } from './model-runtime';

@Module({
  imports: [RegistryModule],
  providers: [ModelRuntime, InferenceService],
  controllers: [V2Controller, V1PredictController],
  exports: [ModelRuntime, InferenceService],
})
export class InferenceModule {}
