import { type DynamicModule, Logger, Module } from '@nestjs/common';
import { AuthenticatorRegistry } from '../authenticator-registry';
import { oidcAuthenticatorFromEnv, type OidcStaffAuthenticator } from './oidc-staff-authenticator';

/** The OIDC staff authenticator of the process, or null when OIDC_ISSUER is not set. */
export const OIDC_STAFF_AUTHENTICATOR = Symbol('OIDC_STAFF_AUTHENTICATOR');

/**
 * Nest wiring of oidcAuthenticatorFromEnv, for a module that imports AuthModule (global): reads the OIDC_* variables of
 * `env` when the app is built (a ConfigError stops it there), registers the authenticator with the AuthenticatorRegistry
 * when OIDC_ISSUER is set, and logs where staff tokens come from. Calling oidcAuthenticatorFromEnv and registerStaff
 * directly does the same.
 */
@Module({})
export class OidcStaffModule {
  static fromEnv(env: NodeJS.ProcessEnv): DynamicModule {
    return {
      module: OidcStaffModule,
      providers: [
        {
          provide: OIDC_STAFF_AUTHENTICATOR,
          inject: [AuthenticatorRegistry],
          useFactory: (registry: AuthenticatorRegistry): OidcStaffAuthenticator | null => {
            const authenticator = oidcAuthenticatorFromEnv(env);
            if (authenticator) {
              registry.registerStaff(authenticator);
              new Logger('OidcStaff').log(authenticator.describe());
            }
            return authenticator;
          },
        },
      ],
      exports: [OIDC_STAFF_AUTHENTICATOR],
    };
  }
}
