import { ApiOperation } from '@nestjs/swagger';
import { Access, publicRoute } from '@sigillum/auth';
import { Controller, Get, Inject } from '@nestjs/common';
import { DOMICILE_SIGNER, type DomicileSigner } from './domicile-signer';

/** Public: the keys that verify the domicile's validation proofs (no session needed: anyone may check a proof). */
@Controller('domicile')
export class SigningController {
  constructor(@Inject(DOMICILE_SIGNER) private readonly signer: DomicileSigner) {}

  /** `{ keys: [{ kid, alg, use, publicKeyPem, jwk }] }`: pick the key whose `kid` is the proof's header `kid`. */
  @Get('keys')
  @ApiOperation({ summary: "The domicile's public signing keys" })
  @Access(publicRoute('public keys: anyone (a court, a relying party) checks a validation proof with them, like the CA certificate'))
  keys() {
    return { keys: [this.signer.published] };
  }
}
