import { Module } from '@nestjs/common';
import { LOCAL_DB } from '@sigillum/runtime';
import type Database from 'better-sqlite3';
import { DomicileConfigModule } from '../domicile.config';
import { SessionCredentialAuthenticator } from './session-credential.guard';
import { SessionLocalStore } from './session-local.store';
import { SessionRateLimiter } from './session-rate-limiter';
import { SessionRateStore } from './session-rate.store';
import { SessionConsumer } from './session.consumer';
import { SessionController } from './session.controller';
import { SessionNotifier } from './session.notifier';
import { SessionService } from './session.service';

/** The sessions management module and its authorization submodule (claim 1, 1e-1h). */
@Module({
  imports: [DomicileConfigModule],
  controllers: [SessionController, SessionConsumer],
  providers: [
    SessionService,
    SessionNotifier,
    SessionCredentialAuthenticator,
    { provide: SessionLocalStore, useFactory: (db: Database.Database) => new SessionLocalStore(db), inject: [LOCAL_DB] },
    { provide: SessionRateStore, useFactory: (db: Database.Database) => new SessionRateStore(db), inject: [LOCAL_DB] },
    SessionRateLimiter,
  ],
  exports: [SessionService, SessionLocalStore, SessionCredentialAuthenticator],
})
export class SessionModule {}
