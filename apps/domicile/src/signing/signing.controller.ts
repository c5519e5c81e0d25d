import { ApiOperation } from '@nestjs/swagger';
import { Access, machine, party, staff } from '@sigillum/auth';
import { Controller, Get, Inject } from '@nestjs/common';
import { DOMICILE_SIGNER, type DomicileSigner } from './domicile-signer';

/** Public: the keys that verify the domicile's validation proofs (no session needed: anyone may check a proof). */
@Controller('domicile')
export class SigningController {
  constructor(@Inject(DOMICILE_SIGNER) private readonly signer: DomicileSigner) {}

  /** `{ keys: [{ kid, alg, use, publicKeyPem, jwk }] }`: pick the key whose `kid` is the proof's header `kid`. */
  @Get('keys')
  @ApiOperation({ summary: "The domicile's public signing keys" })
  @Access(party(), machine(), staff('admin', 'registrar', 'ops', 'auditor'))
  keys() {
    return { keys: [this.signer.published] };
  }
}
