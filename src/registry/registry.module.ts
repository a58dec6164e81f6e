import { Module } from '@nestjs/common';
import { OnnxRuntime } from '../onnx/onnx-runtime';
import { ModelRegistry } from './model-registry';
import { RegistryController } from './registry.controller';

@Module({
  providers: [OnnxRuntime, ModelRegistry],
  controllers: [RegistryController],
  exports: [ModelRegistry, OnnxRuntime],
})
export class RegistryModule {}
