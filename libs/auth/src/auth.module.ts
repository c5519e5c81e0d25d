import { Global, Module } from '@nestjs/common';
import { APP_GUARD, DiscoveryModule } from '@nestjs/core';
import { AccessGuard } from './access.guard';
import { AuthenticatorRegistry } from './authenticator-registry';

/** Deny by default on every route of the process: the global AccessGuard and the registry the roles plug into. */
@Global()
@Module({
  imports: [DiscoveryModule],
  providers: [AuthenticatorRegistry, { provide: APP_GUARD, useClass: AccessGuard }],
  exports: [AuthenticatorRegistry],
})
export class AuthModule {}
