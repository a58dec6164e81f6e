import { Module } from '@nestjs/common';
import { RegistryModule } from '../registry/registry.module';
import { PredictRoutes } from './http/predict-routes';
import { V2Controller } from './http/v2.controller';
import { InferenceService } from './inference.service';
import { ModelRuntime } from './model-runtime';

@Module({
  imports: [RegistryModule],
  providers: [ModelRuntime, InferenceService, PredictRoutes],
  controllers: [V2Controller],
  exports: [ModelRuntime, InferenceService, PredictRoutes],
})
export class InferenceModule {}
