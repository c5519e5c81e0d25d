import { Module } from '@nestjs/common';
import { PartyModule } from './party/party.module';

/** The directory role: who exists, their attributes, channels, keys and operator specifications. */
@Module({ imports: [PartyModule] })
export class DirectoryModule {}
