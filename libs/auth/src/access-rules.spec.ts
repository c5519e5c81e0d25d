import { decideAccess } from './access-rules';
import { machine, party, publicRoute, staff } from './access.decorator';
import { ANONYMOUS, type Principal } from './principal';

const registrar: Principal = { kind: 'staff', subject: 'reg-1', roles: ['registrar'], via: 'credential' };
const auditor: Principal = { kind: 'staff', subject: 'aud-1', roles: ['auditor'], via: 'oidc' };
const alice: Principal = { kind: 'party', partyId: 'alice', sessionId: 's-1' };
const post: Principal = { kind: 'machine', partyId: 'post', certificateSerial: '0a' };

describe('decideAccess: deny unless a rule of the route admits the principal', () => {
  it('refuses every principal on a route without a decision', () => {
    for (const principal of [ANONYMOUS, registrar, alice, post]) {
      expect(decideAccess(undefined, principal)).toMatchObject({ allowed: false, status: 403, rule: 'access.undeclared' });
      expect(decideAccess([], principal)).toMatchObject({ allowed: false, rule: 'access.undeclared' });
    }
  });

  it('lets anyone through a public route', () => {
    expect(decideAccess([publicRoute('health')], ANONYMOUS)).toMatchObject({ allowed: true });
  });

  it('asks the anonymous to authenticate (401), naming what the route accepts', () => {
    const verdict = decideAccess([staff('registrar'), party('partyId')], ANONYMOUS, { partyId: 'alice' });
    expect(verdict).toMatchObject({ allowed: false, status: 401, rule: 'access.unauthenticated' });
    expect(!verdict.allowed && verdict.message).toMatch(/staff bearer token.*party session/);
  });

  it('admits staff by role only', () => {
    expect(decideAccess([staff('registrar')], registrar)).toMatchObject({ allowed: true });
    expect(decideAccess([staff('registrar')], auditor)).toMatchObject({ allowed: false, status: 403, rule: 'access.role' });
    expect(decideAccess([party('partyId')], registrar, { partyId: 'alice' })).toMatchObject({ status: 403, rule: 'access.staff-not-allowed' });
  });

  it('admits a party on its own resource and refuses it on another party', () => {
    expect(decideAccess([party('partyId')], alice, { partyId: 'alice' })).toMatchObject({ allowed: true });
    expect(decideAccess([party('partyId')], alice, { partyId: 'bob' })).toMatchObject({ allowed: false, status: 403, rule: 'access.not-own-resource' });
    expect(decideAccess([party()], alice, {})).toMatchObject({ allowed: true });
    expect(decideAccess([staff('admin')], alice)).toMatchObject({ status: 403, rule: 'access.party-not-allowed' });
  });

  it('admits a machine on its own resource only', () => {
    expect(decideAccess([machine('operatorId')], post, { operatorId: 'post' })).toMatchObject({ allowed: true });
    expect(decideAccess([machine('operatorId')], post, { operatorId: 'other' })).toMatchObject({ status: 403, rule: 'access.not-own-resource' });
    expect(decideAccess([party('partyId')], post, { partyId: 'post' })).toMatchObject({ status: 403, rule: 'access.machine-not-allowed' });
  });
});
