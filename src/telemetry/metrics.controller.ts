import { Controller, Get, Header } from '@nestjs/common';
import { ArgusMetrics } from './metrics';

@Controller()
export class MetricsController {
  constructor(private readonly metrics: ArgusMetrics) {}

  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  async scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
