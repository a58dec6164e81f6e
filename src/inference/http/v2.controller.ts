import { Body, Controller, Get, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ArgusError, ModelNotFoundError } from '../../common/errors';
import { assertModelName, parseVersion } from '../../registry/manifest';
import { ModelRegistry } from '../../registry/model-registry';
import { decodeV2InferRequest, encodeV2InferResponse, v2ModelMetadata } from '../codecs';
import { InferenceService } from '../inference.service';
import { ModelRuntime } from '../model-runtime';

export const SERVER_NAME = 'argus';
export const SERVER_VERSION = '0.1.0';

/** KServe V2 / Open Inference Protocol REST endpoints. */
@Controller('v2')
export class V2Controller {
  constructor(
    private readonly inference: InferenceService,
    private readonly runtime: ModelRuntime,
    private readonly registry: ModelRegistry,
  ) {}

  @Get()
  serverMetadata() {
    return {
      name: SERVER_NAME,
      version: SERVER_VERSION,
      extensions: ['model_repository', 'statistics'],
    };
  }

  @Get('health/live')
  live() {
    return { live: true };
  }

  @Get('health/ready')
  ready(@Res({ passthrough: true }) reply: FastifyReply) {
    if (this.runtime.ready) return { ready: true };
    // The protocol says 4xx means "false"; the body says why.
    void reply.status(400);
    return { ready: false, error: this.runtime.notReadyReasons.join('; ') };
  }

  @Get('models/:model')
  async modelMetadata(@Param('model') model: string) {
    return this.metadata(model);
  }

  @Get('models/:model/versions/:version')
  async versionMetadata(@Param('model') model: string, @Param('version') version: string) {
    return this.metadata(model, parseVersion(version));
  }

  @Get('models/:model/ready')
  async modelReady(@Param('model') model: string, @Res({ passthrough: true }) reply: FastifyReply) {
    return this.readiness(model, undefined, reply);
  }

  @Get('models/:model/versions/:version/ready')
  async versionReady(
    @Param('model') model: string,
    @Param('version') version: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return this.readiness(model, parseVersion(version), reply);
  }

  @Post('models/:model/infer')
  @HttpCode(200)
  async infer(@Param('model') model: string, @Body() body: unknown, @Req() req: FastifyRequest) {
    return this.run(model, undefined, body, req);
  }

  @Post('models/:model/versions/:version/infer')
  @HttpCode(200)
  async inferVersion(
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
    if (req.headers['inference-header-content-length'] !== undefined) {
      throw new ArgusError(
        'unsupported',
        'the binary tensor data extension is not supported yet; send JSON tensors',
      );
    }
    const outcome = await this.inference.infer(
      { model, version, requestId: req.id, protocol: 'v2' },
      (manifest) =>
        decodeV2InferRequest(
          body,
          manifest.inputs,
          manifest.outputs,
          this.inference.maxRowsPerRequest,
        ),
    );
    return encodeV2InferResponse(
      outcome.manifest.name,
      outcome.manifest.version,
      outcome.decoded.id ?? req.id,
      outcome.outputs,
      outcome.decoded.outputs,
      outcome.predictionIds,
    );
  }

  private async metadata(model: string, version?: number) {
    assertModelName(model);
    const summary = await this.registry.getModel(model);
    const chosen =
      version !== undefined
        ? summary.versions.find((v) => v.version === version)
        : (summary.versions.find((v) => v.version === summary.aliases.champion) ??
          summary.versions[summary.versions.length - 1]);
    if (!chosen) throw new ModelNotFoundError(model, version);
    return v2ModelMetadata(
      model,
      summary.versions.map((v) => v.version),
      chosen.inputs,
      chosen.outputs,
    );
  }

  private async readiness(model: string, version: number | undefined, reply: FastifyReply) {
    assertModelName(model);
    if (version !== undefined) await this.registry.getManifest(model, version);
    else await this.registry.getModel(model);
    const ready = this.runtime.isModelReady(model, version);
    if (!ready) void reply.status(400);
    return { name: model, ...(version !== undefined ? { version: String(version) } : {}), ready };
  }
}
