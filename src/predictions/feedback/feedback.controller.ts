import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { FeedbackService } from './feedback.service';

/** Ground truth for earlier predictions: `POST /v1/feedback` with an array of rows. */
@Controller('v1/feedback')
export class FeedbackController {
  constructor(private readonly feedback: FeedbackService) {}

  @Post()
  @HttpCode(200)
  async submit(@Body() body: unknown) {
    return this.feedback.submit(body);
  }
}
