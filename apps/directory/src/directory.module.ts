import { Module } from '@nestjs/common';
import { PartyModule } from './party/party.module';
import { StaffModule } from './staff/staff.module';

/** The directory role: who exists, their attributes, channels, keys and operator specifications; and the staff credentials Sigillum issues. */
@Module({ imports: [PartyModule, StaffModule] })
export class DirectoryModule {}
