#!/usr/bin/env node
'use strict';
/*
 * A partner processing operator for Sigillum, outside Sigillum: it holds its own Ed25519 key (certified by the
 * Sigillum CA), reads its certification tokens from Kafka and answers on its own topic
 * `sigillum.partner.<name>.inbound`, as docs/asyncapi.yaml describes. It performs `print-and-post`: it writes a
 * print job (address block and digests) and returns the token with its signed report.
 *
 * Only kafkajs and node:crypto: no Sigillum code.
 *
 *   node partner.js key DIR      makes DIR/signing-key.pem (once, mode 0600) and prints the public key to certify
 *   node partner.js run DIR      answers tokens, with DIR/partner.json, DIR/certificate.pem and DIR/ca.pem
 *
 * DIR/partner.json: { "name": "acme-post", "operatorId": "...", "keyId": "...", "certificateId": "...",
 *                     "brokers": ["127.0.0.1:9092"] }   (KAFKA_BROKERS overrides brokers)
 * Optional environment: KAFKA_SASL_MECHANISM (scram-sha-512...), KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD_FILE,
 * KAFKA_TOPIC_PREFIX (if the deployment prefixes its topics on the wire), PARTNER_WAIT_MS (how long a token
 * waits for its recipients' addresses, default 20000).
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { Kafka, logLevel } = require('kafkajs');

//////// RFC 8785 canonical JSON, base64url, SHA-256, detached JWS (RFC 7515 Appendix F)

function canonicalize(value) {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new Error('canonical JSON has no NaN or Infinity');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalize).join(',')}]`;
  const keys = Object.keys(value).filter((key) => value[key] !== undefined).sort(); // UTF-16 code unit order
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalize(value[key])}`).join(',')}}`;
}
const b64url = (data) => Buffer.from(data).toString('base64url');
const sha256 = (data) => crypto.createHash('sha256').update(data).digest('hex');
const digestOf = (value) => sha256(canonicalize(value));
const derOf = (pem) => pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');

/** `header..signature` over canonicalize(payload), EdDSA, with x5c = [our certificate, the CA] and kid = our key id. */
function signDetached(payload, identity) {
  const header = b64url(canonicalize({ alg: 'EdDSA', kid: identity.keyId, x5c: [derOf(identity.certificatePem), derOf(identity.caPem)] }));
  const input = `${header}.${b64url(canonicalize(payload))}`;
  return `${header}..${crypto.sign(null, Buffer.from(input, 'ascii'), identity.privateKey).toString('base64url')}`;
}

/** The certifier's signature over a token: EdDSA, x5c leaf issued by the Sigillum CA, subject "Sigillum certifier signing". */
function certifierSigned(token, signature, ca) {
  try {
    const [header, body, sig] = String(signature).split('.');
    if (body !== '') return false;
    const { alg, x5c } = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
    const leaf = new crypto.X509Certificate(Buffer.from(x5c[0], 'base64'));
    const now = Date.now();
    if (alg !== 'EdDSA' || !leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) return false;
    if (now < Date.parse(leaf.validFrom) || now > Date.parse(leaf.validTo)) return false;
    if (!/^CN=Sigillum certifier signing$/m.test(leaf.subject)) return false;
    return crypto.verify(null, Buffer.from(`${header}.${b64url(canonicalize(token))}`, 'ascii'), leaf.publicKey, Buffer.from(sig, 'base64url'));
  } catch {
    return false;
  }
}

//////// Key

function keyCommand(dir) {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, 'signing-key.pem');
  if (!fs.existsSync(file)) {
    const { privateKey } = crypto.generateKeyPairSync('ed25519');
    fs.writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  }
  const publicKey = crypto.createPublicKey(crypto.createPrivateKey(fs.readFileSync(file)));
  // Register it in the directory (POST /parties/<operatorId>/keys, Ed25519, use signature), then have the CA certify it.
  process.stdout.write(publicKey.export({ type: 'spki', format: 'pem' }));
}

//////// Run

function loadIdentity(dir) {
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'partner.json'), 'utf8'));
  for (const field of ['name', 'operatorId', 'keyId', 'certificateId']) if (!config[field]) throw new Error(`partner.json needs "${field}"`);
  const identity = {
    ...config,
    brokers: (process.env.KAFKA_BROKERS || (config.brokers || ['127.0.0.1:9092']).join(',')).split(',').map((b) => b.trim()),
    privateKey: crypto.createPrivateKey(fs.readFileSync(path.join(dir, 'signing-key.pem'))),
    certificatePem: fs.readFileSync(path.join(dir, 'certificate.pem'), 'utf8'),
    caPem: fs.readFileSync(path.join(dir, 'ca.pem'), 'utf8'),
    printJobsDir: path.join(dir, 'print-jobs'),
  };
  const certificate = new crypto.X509Certificate(identity.certificatePem);
  if (!certificate.checkPrivateKey(identity.privateKey)) throw new Error('certificate.pem does not certify signing-key.pem');
  identity.ca = new crypto.X509Certificate(identity.caPem);
  return identity;
}

function kafkaOf(identity) {
  const mechanism = process.env.KAFKA_SASL_MECHANISM;
  const sasl = mechanism
    ? { mechanism, username: process.env.KAFKA_SASL_USERNAME, password: fs.readFileSync(process.env.KAFKA_SASL_PASSWORD_FILE, 'utf8').trim() }
    : undefined;
  return new Kafka({ clientId: `partner-${identity.name}`, brokers: identity.brokers, ...(sasl ? { sasl } : {}), logLevel: logLevel.WARN });
}

/** Resolves when the consumer has joined its group (its partitions are assigned). */
const joinOf = (consumer) => new Promise((resolve) => {
  const remove = consumer.on(consumer.events.GROUP_JOIN, () => {
    remove();
    resolve();
  });
});
/** The record's JSON body; undefined (skipped) when it has none. A failed send, by contrast, throws: the record comes again. */
function jsonOf(message) {
  try {
    return JSON.parse(message.value.toString('utf8'));
  } catch {
    return undefined;
  }
}
const log = (...parts) => console.log(new Date().toISOString(), ...parts);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function runCommand(dir) {
  const identity = loadIdentity(dir);
  // KAFKA_TOPIC_PREFIX, if the deployment sets one, is put before every topic and group name on the wire.
  const prefix = process.env.KAFKA_TOPIC_PREFIX || '';
  const topic = (name) => `${prefix}${name}`;
  const inbound = topic(`sigillum.partner.${identity.name}.inbound`);
  const waitMs = Number(process.env.PARTNER_WAIT_MS || 20_000);
  const kafka = kafkaOf(identity);
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();

  // The directory: names and postal addresses, from the start of sigillum.party.events, in memory only.
  const parties = new Map();
  const directory = kafka.consumer({ groupId: topic(`sigillum.partner.${identity.name}.directory-${crypto.randomUUID()}`) });
  const joined = [joinOf(directory)];
  await directory.connect();
  await directory.subscribe({ topic: topic('sigillum.party.events'), fromBeginning: true });
  await directory.run({
    eachMessage: async ({ message }) => {
      const type = String(message.headers.ce_type || '');
      const data = jsonOf(message);
      if (!data) return;
      if (type.endsWith('.PartyRegistered')) parties.set(data.partyId, { displayName: data.displayName });
      else if (type.endsWith('.PartyRenamed') && parties.has(data.partyId)) parties.get(data.partyId).displayName = data.displayName;
      else if (type.endsWith('.IdentityAttributeDeclared') && ['address', 'country'].includes(data.name) && parties.has(data.partyId)) {
        parties.get(data.partyId)[data.name] = data.value;
      }
    },
  });

  /** Sends one command, keyed by the job stream so that a token's commands stay in order. */
  async function send(type, data) {
    await producer.send({
      topic: inbound,
      acks: -1,
      messages: [
        {
          key: `job-${data.tokenId}`,
          value: JSON.stringify(data),
          headers: {
            ce_specversion: '1.0',
            ce_id: crypto.randomUUID(),
            ce_type: type,
            ce_source: `/partner/${identity.name}`,
            ce_time: new Date().toISOString(),
            ce_correlationid: data.correspondenceId,
            ce_causationid: data.tokenId,
            ce_dataversion: '1',
            'content-type': 'application/json',
          },
        },
      ],
    });
  }
  const who = (token) => ({
    tokenId: token.tokenId,
    correspondenceId: token.correspondenceId,
    operatorId: identity.operatorId,
    keyId: identity.keyId,
    certificateId: identity.certificateId,
  });

  async function addressOf(recipientId) {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const party = parties.get(recipientId);
      if (party && party.address && party.country) return party;
      if (Date.now() > deadline) return undefined;
      await sleep(200);
    }
  }

  /** print-and-post: one letter per recipient, address block = name, address lines (commas split them), country. */
  async function printAndPost(token, chain) {
    const letters = [];
    for (const recipientId of chain.recipientIds) {
      const party = await addressOf(recipientId);
      if (!party) return { failure: [{ rule: 'address.missing', message: `no postal address and country for recipient ${recipientId}` }] };
      const addressBlock = [party.displayName, ...party.address.split(/\r?\n|,/), party.country].map((line) => line.trim()).filter(Boolean);
      letters.push({ recipientId, addressBlock, contentDigest: token.inputDigest, correspondenceId: token.correspondenceId });
    }
    const printJobId = `print-job-${token.tokenId}`;
    const file = path.join(identity.printJobsDir, `${printJobId}.json`);
    const job = {
      format: 'sigillum.print-job/1',
      printJobId,
      tokenId: token.tokenId,
      correspondenceId: token.correspondenceId,
      senderId: chain.senderId,
      parameters: token.parameters,
      letters,
      createdAt: new Date().toISOString(),
    };
    fs.mkdirSync(identity.printJobsDir, { recursive: true });
    // Written once: a token received again finds the job its first delivery wrote.
    try {
      fs.writeFileSync(file, canonicalize(job), { flag: 'wx' });
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
    }
    const kept = JSON.parse(fs.readFileSync(file, 'utf8'));
    return {
      output: {
        step: 'print-and-post',
        printJobId,
        addressBlock: kept.letters.flatMap((letter, index) => (index === 0 ? letter.addressBlock : ['', ...letter.addressBlock])),
        contentDigest: token.inputDigest,
        location: `print-jobs/${printJobId}.json`,
      },
    };
  }

  async function answer(token, chain) {
    const acknowledgedAt = new Date().toISOString();
    const tokenDigest = digestOf(token);
    await send('sigillum.partner.AcknowledgeToken', {
      ...who(token),
      tokenDigest,
      acknowledgedAt,
      signature: signDetached({ tokenId: token.tokenId, tokenDigest, acknowledgedAt }, identity),
    });
    log(`acknowledged token ${token.tokenId} (${token.step}, correspondence ${token.correspondenceId})`);
    const startedAt = new Date().toISOString();
    const done = token.step === 'print-and-post' && chain
      ? await printAndPost(token, chain)
      : { failure: [{ rule: chain ? 'step.not-offered' : 'chain.unknown', message: chain ? `this partner performs print-and-post, not ${token.step}` : 'the chain of this token was not seen' }] };
    if (done.failure) {
      const failedAt = new Date().toISOString();
      await send('sigillum.partner.ReportStepFailure', { ...who(token), reasons: done.failure, failedAt, signature: signDetached({ tokenId: token.tokenId, reasons: done.failure, failedAt }, identity) });
      log(`reported failure of token ${token.tokenId}: ${done.failure.map((reason) => reason.rule).join(', ')}`);
      return;
    }
    const report = {
      tokenId: token.tokenId,
      step: token.step,
      inputDigest: token.inputDigest,
      outputDigest: digestOf(done.output),
      parameters: token.parameters,
      startedAt,
      finishedAt: new Date().toISOString(),
      output: done.output,
    };
    await send('sigillum.partner.ReturnToken', { ...who(token), report, returnedAt: new Date().toISOString(), signature: signDetached(report, identity) });
    log(`returned token ${token.tokenId}: print job ${done.output.printJobId}`);
  }

  // The tokens: every StepTokenIssued of sigillum.chain.events names its operator; ours are those naming us.
  // ChainStarted (same key, earlier) says who the recipients are; only the chains that plan a step for us are kept.
  const chains = new Map();
  const tokens = kafka.consumer({ groupId: topic(`sigillum.partner.${identity.name}.tokens`) });
  joined.push(joinOf(tokens));
  await tokens.connect();
  // From the beginning the first time this group runs (then from its committed offsets): no token is missed.
  await tokens.subscribe({ topic: topic('sigillum.chain.events'), fromBeginning: true });
  await tokens.run({
    eachMessage: async ({ message }) => {
      const type = String(message.headers.ce_type || '');
      const data = jsonOf(message);
      if (!data) return;
      if (type.endsWith('.ChainStarted') && data.steps.some((step) => step.operatorId === identity.operatorId)) {
        chains.set(data.correspondenceId, { senderId: data.senderId, recipientIds: data.recipientIds });
      }
      if (!type.endsWith('.StepTokenIssued') || data.token.operatorId !== identity.operatorId) return;
      if (!certifierSigned(data.token, data.signature, identity.ca)) {
        log(`token ${data.token.tokenId} ignored: not signed by the Sigillum certifier`);
        return;
      }
      await answer(data.token, chains.get(data.token.correspondenceId));
    },
  });
  await Promise.all(joined);
  log(`partner ${identity.name} (operator ${identity.operatorId}) answering its tokens on ${inbound}`);

  const stop = async () => {
    await Promise.allSettled([tokens.disconnect(), directory.disconnect(), producer.disconnect()]);
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

const [command, dir] = process.argv.slice(2);
if (command === 'key' && dir) keyCommand(dir);
else if (command === 'run' && dir) {
  runCommand(dir).catch((error) => {
    console.error(`partner: ${error.message}`);
    process.exit(1);
  });
} else {
  console.error('usage: node partner.js key DIR | run DIR');
  process.exit(2);
}
