import { Module } from '@nestjs/common';
import { StaffCredentialsModule } from '@sigillum/auth';
import { FirstStartAdmin } from './first-start-admin';
import { StaffCredentialService } from './staff-credential.service';
import { StaffController } from './staff.controller';

/** Staff credentials issued by Sigillum, and the first-start admin credential. */
@Module({
  imports: [StaffCredentialsModule],
  controllers: [StaffController],
  providers: [StaffCredentialService, FirstStartAdmin],
  exports: [StaffCredentialService],
})
export class StaffModule {}
