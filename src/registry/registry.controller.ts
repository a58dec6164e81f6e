import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  Param,
  Post,
  Put,
  Query,
  UseGuards,
} from '@nestjs/common';
import { InvalidInputError } from '../common/errors';
import { AdminTokenGuard } from '../security/admin-token.guard';
import { assertAlias, parseVersion } from './manifest';
import { ModelRegistry } from './model-registry';

/** Admin API over the registry. Registration accepts JSON (base64 model) or raw ONNX bytes. */
@Controller('v1/models')
export class RegistryController {
  constructor(private readonly registry: ModelRegistry) {}

  @Get()
  async list() {
    return { models: await this.registry.listModels() };
  }

  @Get(':name')
  async get(@Param('name') name: string) {
    return this.registry.getModel(name);
  }

  @Get(':name/versions/:version')
  async getVersion(@Param('name') name: string, @Param('version') version: string) {
    return this.registry.getManifest(name, parseVersion(version));
  }

  @Post(':name/versions')
  @UseGuards(AdminTokenGuard)
  @HttpCode(201)
  async register(
    @Param('name') name: string,
    @Body() body: unknown,
    @Query('alias') aliasQuery: string | undefined,
    @Headers('x-argus-metadata') metadataHeader: string | undefined,
  ) {
    let bytes: Uint8Array;
    let metadata: unknown;
    let alias: unknown = aliasQuery;
    if (Buffer.isBuffer(body)) {
      bytes = body;
      if (metadataHeader) {
        try {
          metadata = JSON.parse(metadataHeader);
        } catch {
          throw new InvalidInputError('X-Argus-Metadata header is not valid JSON');
        }
      }
    } else if (body && typeof body === 'object' && !Array.isArray(body)) {
      const b = body as Record<string, unknown>;
      if (typeof b.onnx_base64 !== 'string' || b.onnx_base64.length === 0) {
        throw new InvalidInputError(
          "body must be ONNX bytes (Content-Type: application/octet-stream) or JSON with 'onnx_base64'",
        );
      }
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b.onnx_base64))
        throw new InvalidInputError('onnx_base64 is not valid base64');
      bytes = Buffer.from(b.onnx_base64, 'base64');
      metadata = b.metadata;
      alias = b.alias ?? alias;
    } else {
      throw new InvalidInputError(
        "body must be ONNX bytes (Content-Type: application/octet-stream) or JSON with 'onnx_base64'",
      );
    }
    if (alias !== undefined) assertAlias(alias);
    const manifest = await this.registry.register(name, bytes, metadata, {
      alias: alias,
    });
    return { name: manifest.name, version: manifest.version, manifest };
  }

  @Put(':name/aliases/:alias')
  @UseGuards(AdminTokenGuard)
  async setAlias(
    @Param('name') name: string,
    @Param('alias') alias: string,
    @Body() body: unknown,
  ) {
    const version = parseVersion((body as Record<string, unknown> | null)?.version);
    const aliases = await this.registry.setAlias(name, alias, version);
    return { name, aliases };
  }

  @Delete(':name/versions/:version')
  @UseGuards(AdminTokenGuard)
  async deleteVersion(@Param('name') name: string, @Param('version') version: string) {
    const v = parseVersion(version);
    await this.registry.deleteVersion(name, v);
    return { name, deleted: v };
  }
}
