import { Module } from '@nestjs/common';
import { InferenceModule } from '../inference/inference.module';
import { RegistryModule } from '../registry/registry.module';
import { MonitoringController } from './monitoring.controller';
import { MonitoringScheduler } from './monitoring-scheduler';
import { MonitoringService } from './monitoring.service';
import { ReferenceProfiles } from './reference-profiles';

/**
 * Monitoring (docs/monitoring.md): reference profiles, the ingest enricher of `feature_bins`, the
 * scheduler writing `monitoring_results` / gauges / events, and the monitoring API. Needs the
 * global store, telemetry and prediction-log modules.
 */
@Module({
  imports: [RegistryModule, InferenceModule],
  providers: [ReferenceProfiles, MonitoringService, MonitoringScheduler],
  controllers: [MonitoringController],
  exports: [ReferenceProfiles, MonitoringService, MonitoringScheduler],
})
export class MonitoringModule {}
