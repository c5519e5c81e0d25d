import { Module } from '@nestjs/common';

/** The certifier role: certified trust levels, trust checks, the one-time secret, certification tokens, certificates and seals. Its streams arrive with the trust-core issue. */
@Module({})
export class CertifierModule {}
