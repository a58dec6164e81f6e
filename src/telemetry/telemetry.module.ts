import { Global, Module } from '@nestjs/common';
import { ArgusMetrics } from './metrics';
import { MetricsController } from './metrics.controller';

@Global()
@Module({
  providers: [ArgusMetrics],
  controllers: [MetricsController],
  exports: [ArgusMetrics],
})
export class TelemetryModule {}
