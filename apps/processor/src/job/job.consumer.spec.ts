import { ShapeError } from '@sigillum/contracts';
import { testToken } from '../testing-fixtures';
import { issuedTokenOf } from './job.consumer';

describe('shape of a consumed certification token (contracts reader + path-safe ids)', () => {
  it('returns the token exactly as received, fields added later included (the certifier signed all of them)', () => {
    const received = { ...testToken({ parameters: { retentionYears: 10, postal: 'registered', urgent: false } }), addedLater: 'x' };
    expect(issuedTokenOf({ token: received, signature: 'h..s' }).token).toBe(received);
  });

  it.each([
    ['a missing token', undefined],
    ['an unknown step', { ...testToken(), step: 'shred' }],
    ['a digest that is not SHA-256 hex', { ...testToken(), inputDigest: 'ABC' }],
    ['an id that could name a path', { ...testToken(), correspondenceId: '../etc' }],
    ['a negative step index', { ...testToken(), stepIndex: -1 }],
    ['attempt 0', { ...testToken(), attempt: 0 }],
    ['a nested parameter', { ...testToken(), parameters: { nested: { a: 1 } } }],
    ['a deadline that is not a time', { ...testToken(), returnBy: 'tomorrow' }],
  ])('refuses %s', (_what, token) => {
    expect(() => issuedTokenOf({ token, signature: 'h..s' })).toThrow(ShapeError);
  });
});
