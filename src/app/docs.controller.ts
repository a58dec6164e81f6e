import { Controller, Get, Header, Param, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NotFoundError } from '../common/errors';
import { OPENAPI_DOCUMENT } from './openapi';

const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'application/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'application/javascript; charset=utf-8',
};

const PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Argus API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({ url: '/docs/openapi.json', dom_id: '#swagger-ui' });</script>
</body></html>`;

/** The OpenAPI document and Swagger UI, served from the swagger-ui-dist package (no CDN). */
@Controller('docs')
export class DocsController {
  private readonly assetDir = join(require.resolve('swagger-ui-dist/package.json'), '..');
  private readonly cache = new Map<string, Buffer>();

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  page(): string {
    return PAGE;
  }

  @Get('openapi.json')
  document() {
    return OPENAPI_DOCUMENT;
  }

  @Get('assets/:file')
  asset(@Param('file') file: string, @Res({ passthrough: true }) reply: FastifyReply): Buffer {
    const type = ASSETS[file];
    if (!type) throw new NotFoundError(`no such asset '${file}'`);
    let body = this.cache.get(file);
    if (!body) {
      body = readFileSync(join(this.assetDir, file));
      this.cache.set(file, body);
    }
    void reply.header('Content-Type', type).header('Cache-Control', 'public, max-age=86400');
    return body;
  }
}
