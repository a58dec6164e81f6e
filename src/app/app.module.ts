import { DynamicModule, Module } from '@nestjs/common';
import { ArgusConfig, ConfigModule } from '../config';
import { InferenceModule } from '../inference/inference.module';
import { RegistryModule } from '../registry/registry.module';
import { TelemetryModule } from '../telemetry/telemetry.module';
import { DocsController } from './docs.controller';

@Module({})
export class AppModule {
  static forRoot(config: ArgusConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [ConfigModule.forRoot(config), TelemetryModule, RegistryModule, InferenceModule],
      controllers: [DocsController],
    };
  }
}
