import { Module } from '@nestjs/common';
import { StaffCredentialAuthenticator } from './staff-credential.authenticator';

/** The staff credentials check, in every process (it needs the process's EVENT_STORE, from the runtime). */
@Module({ providers: [StaffCredentialAuthenticator], exports: [StaffCredentialAuthenticator] })
export class StaffCredentialsModule {}
