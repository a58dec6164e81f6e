import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import { ArgusError } from '../common/errors';
import { ARGUS_CONFIG, ArgusConfig } from '../config';

/**
 * Guards routes that change the registry. With `ARGUS_ADMIN_TOKEN` set, callers need
 * `Authorization: Bearer <token>` (401 without, 403 with a wrong one). Without a token the server
 * only listens on loopback (see config), so local admin calls need no credential.
 */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  private readonly expected: Buffer | undefined;

  constructor(@Inject(ARGUS_CONFIG) config: ArgusConfig) {
    this.expected = config.server.adminToken ? digest(config.server.adminToken) : undefined;
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.expected) return true;
    const header = context
      .switchToHttp()
      .getRequest<{ headers: Record<string, string | undefined> }>().headers.authorization;
    const match = header ? /^Bearer\s+(.+)$/i.exec(header) : null;
    if (!match)
      throw new ArgusError(
        'unauthenticated',
        'admin credential required: Authorization: Bearer <ARGUS_ADMIN_TOKEN>',
      );
    // Hash both sides so the comparison is constant-time regardless of the token's length.
    if (!timingSafeEqual(digest(match[1].trim()), this.expected)) {
      throw new ArgusError('forbidden', 'the admin credential is not valid');
    }
    return true;
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
