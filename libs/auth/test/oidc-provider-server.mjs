// A real OpenID Connect provider (panva's oidc-provider, certified by the OpenID Foundation) for the tests: it runs in
// its own Node process (the package is ESM-only; jest here is CommonJS), listens on 127.0.0.1 and prints one JSON line
// `{"ready":true,"issuer":"…","url":"…"}` once it answers. Nothing in it mints tokens by hand: clients register over
// HTTP (RFC 7591, with an initial access token) and get JWT access tokens (RFC 9068) at the token endpoint with the
// client_credentials grant and a resource indicator (RFC 8707) naming the audience.
//
// Settings come as JSON in the environment variable OIDC_TEST_PROVIDER (all optional):
//   port           listen on this port (default: a free one)
//   issuer         the issuer identifier to claim (default: http://127.0.0.1:<port>); another value makes an impostor
//                  that signs with its own keys under someone else's name
//   rolesClaim     where the roles go in the access token: a claim name or a dotted path (default "roles")
//   rolesClaimIsFlat  true: rolesClaim is one claim name even with dots in it (an https://… namespaced claim)
//   alg            default signing algorithm of access tokens: RS256 | PS256 | ES256 | EdDSA (default RS256)
//   registrationToken  the initial access token clients register with (required)
//
// Registered clients may carry, besides the standard metadata:
//   sigillum_client_id   the client_id to give it (default: a random one); it is the tokens' `sub`
//   sigillum_roles       the roles it holds (array of strings), put into the access tokens under rolesClaim
//   sigillum_token_ttl   lifetime of its access tokens in seconds (default 300)
//   sigillum_token_alg   signing algorithm of its access tokens (default: alg above)
//
// The process ends when its standard input closes (the test process that started it is gone) or on SIGTERM.
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import Provider from 'oidc-provider';

const settings = JSON.parse(process.env.OIDC_TEST_PROVIDER || '{}');
const rolesClaim = settings.rolesClaim || 'roles';
const defaultAlg = settings.alg || 'RS256';
const ALGS = ['RS256', 'PS256', 'ES256', 'EdDSA'];
if (!ALGS.includes(defaultAlg)) throw new Error(`alg must be one of ${ALGS.join(', ')}`);
if (!settings.registrationToken) throw new Error('registrationToken is required');

// Fresh keys for every instance; the key ids are fixed, so an impostor's keys carry the same kid as the real ones.
const jwk = (keyPair, kid) => ({ ...keyPair.privateKey.export({ format: 'jwk' }), kid, use: 'sig' });
const keys = [
  jwk(crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }), 'test-rsa'),
  jwk(crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }), 'test-ec'),
  jwk(crypto.generateKeyPairSync('ed25519'), 'test-ed'),
];

/** { a: { b: value } } for the path "a.b"; a claim name holding dots but no nesting (a URL) stays whole when asked. */
function nested(path, value) {
  if (settings.rolesClaimIsFlat) return { [path]: value };
  return path
    .split('.')
    .reverse()
    .reduce((inner, segment) => ({ [segment]: inner }), value);
}

const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(settings.port || 0, '127.0.0.1', resolve);
});
const url = `http://127.0.0.1:${server.address().port}`;
const issuer = settings.issuer || url;

const provider = new Provider(issuer, {
  jwks: { keys },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  clients: [],
  extraClientMetadata: {
    properties: ['sigillum_client_id', 'sigillum_roles', 'sigillum_token_ttl', 'sigillum_token_alg'],
    validator(_ctx, key, value) {
      if (value === undefined) return;
      const fail = (message) => {
        throw new provider.constructor.errors.InvalidClientMetadata(`${key} ${message}`);
      };
      if (key === 'sigillum_client_id' && !(typeof value === 'string' && /^[\w.@:-]{1,100}$/.test(value))) fail('must be a short identifier');
      if (key === 'sigillum_roles' && !(Array.isArray(value) && value.every((role) => typeof role === 'string'))) fail('must be an array of strings');
      if (key === 'sigillum_token_ttl' && !(Number.isInteger(value) && value >= 1 && value <= 86400)) fail('must be 1–86400 seconds');
      if (key === 'sigillum_token_alg' && !ALGS.includes(value)) fail(`must be one of ${ALGS.join(', ')}`);
    },
  },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    registration: {
      enabled: true,
      initialAccessToken: settings.registrationToken,
      idFactory: (ctx) => ctx.oidc.body?.sigillum_client_id || `client-${crypto.randomBytes(8).toString('hex')}`,
    },
    resourceIndicators: {
      enabled: true,
      defaultResource: (_ctx, _client, oneOf) => oneOf,
      useGrantedResource: () => true,
      // Any absolute URI is a resource server here; the audience of its tokens is its indicator.
      getResourceServerInfo: (_ctx, resourceIndicator, client) => ({
        scope: 'staff',
        audience: resourceIndicator,
        accessTokenTTL: client.sigillum_token_ttl || 300,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: client.sigillum_token_alg || defaultAlg } },
      }),
    },
  },
  scopes: ['staff'],
  async extraTokenClaims(_ctx, token) {
    const client = await provider.Client.find(token.clientId);
    if (!client) return undefined;
    return {
      ...nested(rolesClaim, client.sigillum_roles ?? []),
      ...(client.clientName ? { preferred_username: client.clientName } : {}),
    };
  },
});
provider.on('server_error', (_ctx, error) => process.stderr.write(`oidc-provider server_error: ${error.stack}\n`));

server.on('request', provider.callback());
process.stdout.write(`${JSON.stringify({ ready: true, issuer, url })}\n`);

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
