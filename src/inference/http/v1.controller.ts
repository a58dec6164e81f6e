import { Body, Controller, HttpCode, Param, Post, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { parseVersion } from '../../registry/manifest';
import { decodeV1Instances, predictionsFromOutputs } from '../codecs';
import { InferenceService } from '../inference.service';

/** The simple JSON predict API. */
@Controller('v1/models')
export class V1PredictController {
  constructor(private readonly inference: InferenceService) {}

  @Post(':model/predict')
  @HttpCode(200)
  async predict(@Param('model') model: string, @Body() body: unknown, @Req() req: FastifyRequest) {
    return this.run(model, undefined, body, req);
  }

  @Post(':model/versions/:version/predict')
  @HttpCode(200)
  async predictVersion(
    @Param('model') model: string,
    @Param('version') version: string,
    @Body() body: unknown,
    @Req() req: FastifyRequest,
  ) {
    return this.run(model, parseVersion(version), body, req);
  }

  private async run(
    model: string,
    version: number | undefined,
    body: unknown,
    req: FastifyRequest,
  ) {
    const outcome = await this.inference.infer(
      { model, version, requestId: req.id, protocol: 'v1' },
      (manifest) => {
        const { input, rows } = decodeV1Instances(body, manifest, this.inference.maxRowsPerRequest);
        return { inputs: [input], rows };
      },
    );
    return {
      model: outcome.manifest.name,
      version: outcome.manifest.version,
      request_id: req.id,
      prediction_ids: outcome.predictionIds,
      predictions: predictionsFromOutputs(outcome.manifest, outcome.outputs, outcome.decoded.rows),
    };
  }
}
