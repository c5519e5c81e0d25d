import { Module } from '@nestjs/common';
import { StoredSessionAuthenticator } from './stored-session.authenticator';

/** Party sessions checked from the shared store, in processes that do not run the domicile. */
@Module({ providers: [StoredSessionAuthenticator] })
export class StoredPartySessionsModule {}
