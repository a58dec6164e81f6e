import { Body, Controller, Get, HttpCode, Param, Post, Query, UseGuards } from '@nestjs/common';
import { InvalidInputError } from '../common/errors';
import { AdminTokenGuard } from '../security/admin-token.guard';
import { JobStatus, jobSummary } from './jobs/job-record';
import { TrainingJobService } from './jobs/training-job-service';

/** HTTP front door of the training jobs; everything else is TrainingJobService. */
@Controller('v1')
export class TrainingController {
  constructor(private readonly jobs: TrainingJobService) {}

  /** Spec in the body, or none (or `{}`) for the model's stored training spec. */
  @Post('models/:name/train')
  @UseGuards(AdminTokenGuard)
  @HttpCode(202)
  async train(@Param('name') name: string, @Body() body: unknown) {
    return this.jobs.submit(name, body);
  }

  @Get('jobs')
  async list(
    @Query('model') model: string | undefined,
    @Query('status') status: string | undefined,
    @Query('limit') limit: string | undefined,
  ) {
    let max: number | undefined;
    if (limit !== undefined) {
      max = Number(limit);
      if (!Number.isInteger(max) || max < 1 || max > 1000) {
        throw new InvalidInputError('limit must be an integer in 1..1000');
      }
    }
    const jobs = await this.jobs.list({
      model,
      status: status as JobStatus | undefined,
      limit: max,
    });
    return { jobs: jobs.map(jobSummary) };
  }

  @Get('jobs/:id')
  async get(@Param('id') id: string) {
    return this.jobs.get(id);
  }

  @Post('jobs/:id/cancel')
  @UseGuards(AdminTokenGuard)
  @HttpCode(200)
  async cancel(@Param('id') id: string) {
    return this.jobs.cancel(id);
  }
}
