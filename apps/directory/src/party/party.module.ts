import { Module } from '@nestjs/common';
import { PartyController } from './party.controller';

@Module({ controllers: [PartyController] })
export class PartyModule {}
