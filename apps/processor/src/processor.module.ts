import { Module } from '@nestjs/common';
import type { SigillumConfig } from '@sigillum/config';
import { EVENT_BUS, type EventBus } from '@sigillum/bus';
import { CLOCK, type Clock, ID_GENERATOR, type IdGenerator } from '@sigillum/contracts';
import type { FileKeyStore } from '@sigillum/crypto';
import { EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import { KEY_STORE, LOCAL_DB, SIGILLUM_CONFIG } from '@sigillum/runtime';
import type Database from 'better-sqlite3';
import { CertifierCertificates } from './job/certifier-certificates';
import { ChainReader } from './job/chain-reader';
import { JobConsumer } from './job/job.consumer';
import { JobRunner } from './job/job.runner';
import { CertifierTokenVerifier } from './job/token-verifier';
import { CertificatesConsumer } from './operators/certificates.consumer';
import { HostedOperatorsStore } from './operators/hosted-operators.store';
import { HostingConsumer } from './operators/hosting.consumer';
import { OperatorCredentials } from './operators/operator-credentials';
import { OperatorsController } from './operators/operators.controller';
import { OperatorsService } from './operators/operators.service';
import { loadPartnerConfig, PARTNER_CONFIG, type PartnerConfig } from './partner/partner.config';
import { declarePartnerTopics, PartnerInboundConsumer } from './partner/partner-inbound.consumer';
import { PartnerJobs } from './partner/partner-jobs';
import { PartnerTokens } from './partner/partner-tokens';
import { loadProcessorConfig, PROCESSOR_CONFIG, type ProcessorConfig } from './processor.config';

/**
 * The processor role: processing operators hosted in this process (keys in its keystore, certificates from the
 * certifier CA) that acknowledge, perform — seal, timestamp, deliver, archive, print-and-post — and return each
 * certification token addressed to them, in `job-<tokenId>`.
 */
@Module({
  controllers: [OperatorsController, CertificatesConsumer, HostingConsumer, JobConsumer, PartnerInboundConsumer],
  providers: [
    { provide: PROCESSOR_CONFIG, useFactory: (config: SigillumConfig) => loadProcessorConfig(config.env, config.dataDir), inject: [SIGILLUM_CONFIG] },
    { provide: HostedOperatorsStore, useFactory: (db: Database.Database) => new HostedOperatorsStore(db), inject: [LOCAL_DB] },
    {
      provide: CertifierCertificates,
      useFactory: (db: Database.Database, store: EventStore, operators: HostedOperatorsStore) =>
        new CertifierCertificates(db, store, () => operators.trustAnchors().map((anchor) => anchor.caId)),
      inject: [LOCAL_DB, EVENT_STORE, HostedOperatorsStore],
    },
    {
      provide: OperatorCredentials,
      useFactory: (operators: HostedOperatorsStore, keystore: FileKeyStore) => new OperatorCredentials(operators, keystore),
      inject: [HostedOperatorsStore, KEY_STORE],
    },
    {
      provide: JobRunner,
      useFactory: (
        store: EventStore,
        operators: HostedOperatorsStore,
        credentials: OperatorCredentials,
        config: ProcessorConfig,
        sigillum: SigillumConfig,
        clock: Clock,
        ids: IdGenerator,
        certifierCertificates: CertifierCertificates,
      ) =>
        new JobRunner({
          store,
          operators,
          credentials,
          verifier: new CertifierTokenVerifier(certifierCertificates),
          reader: new ChainReader(store),
          config,
          durableFiles: sigillum.sqliteSynchronous === 'FULL',
          clock,
          ids,
        }),
      inject: [EVENT_STORE, HostedOperatorsStore, OperatorCredentials, PROCESSOR_CONFIG, SIGILLUM_CONFIG, CLOCK, ID_GENERATOR, CertifierCertificates],
    },
    OperatorsService,
    // Partner operators over Kafka (PROCESSOR_PARTNERS): their inbound topics are declared before the transport starts.
    {
      provide: PARTNER_CONFIG,
      useFactory: (config: SigillumConfig) => {
        const partners = loadPartnerConfig(config.env, config.eventBus.kind);
        declarePartnerTopics(partners.partners);
        return partners;
      },
      inject: [SIGILLUM_CONFIG],
    },
    {
      provide: PartnerJobs,
      useFactory: (
        store: EventStore,
        operators: HostedOperatorsStore,
        credentials: OperatorCredentials,
        config: PartnerConfig,
        clock: Clock,
        ids: IdGenerator,
      ) =>
        new PartnerJobs({
          store,
          trustedCaPems: () => credentials.trustedCaPems(),
          isHosted: (operatorId) => operators.isHosted(operatorId),
          config,
          clock,
          ids,
        }),
      inject: [EVENT_STORE, HostedOperatorsStore, OperatorCredentials, PARTNER_CONFIG, CLOCK, ID_GENERATOR],
    },
    // Each partner's own tokens (and its letters' address blocks) on sigillum.partner.<name>.tokens, published by JobConsumer.
    {
      provide: PartnerTokens,
      useFactory: (bus: EventBus, store: EventStore, config: PartnerConfig) =>
        new PartnerTokens({ bus, reader: new ChainReader(store), partners: config.partners }),
      inject: [EVENT_BUS, EVENT_STORE, PARTNER_CONFIG],
    },
  ],
})
export class ProcessorModule {}
