import { Module } from '@nestjs/common';
import { PartyDirectoryConsumer } from './party-directory.consumer';
import { PartyDirectoryController } from './party-directory.controller';

@Module({ controllers: [PartyDirectoryConsumer, PartyDirectoryController] })
export class PartyDirectoryModule {}
