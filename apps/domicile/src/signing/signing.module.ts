import { Module } from '@nestjs/common';
import { DOMICILE_SIGNER, domicileSignerProvider } from './domicile-signer';
import { SigningController } from './signing.controller';

/** The domicile's Ed25519 signing key (KEY_STORE entry `domicile-signing`) and `GET /domicile/keys`. */
@Module({ controllers: [SigningController], providers: [domicileSignerProvider], exports: [DOMICILE_SIGNER] })
export class SigningModule {}
