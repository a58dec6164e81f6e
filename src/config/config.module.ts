import { Global, Module } from '@nestjs/common';
import { ArgusConfig } from './config';

export const ARGUS_CONFIG = Symbol('ARGUS_CONFIG');

/** Provides the configuration validated at boot; built by `ConfigModule.forRoot(config)`. */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: ArgusConfig) {
    return {
      module: ConfigModule,
      providers: [{ provide: ARGUS_CONFIG, useValue: config }],
      exports: [ARGUS_CONFIG],
    };
  }
}
