import { Controller, Get, Param, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ModelNotFoundError } from '../../common/errors';
import { assertModelName, parseVersion } from '../../registry/manifest';
import { ModelRegistry } from '../../registry/model-registry';
import { v2ModelMetadata } from '../codecs';
import { ModelRuntime } from '../model-runtime';

export const SERVER_NAME = 'argus';
export const SERVER_VERSION = '0.1.0';

/**
 * KServe V2 / Open Inference Protocol REST endpoints: server and model metadata, health. The infer
 * routes are plain Fastify routes (`PredictRoutes`), off Nest's per-request router overhead.
 */
@Controller('v2')
export class V2Controller {
  constructor(
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
