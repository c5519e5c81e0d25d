#!/usr/bin/env node
'use strict';
/*
 * A partner processing operator for Sigillum, outside Sigillum: it holds its own Ed25519 key (certified by the
 * Sigillum CA), reads its certification tokens on its own topic `sigillum.partner.<name>.tokens` and answers on its
 * own topic `sigillum.partner.<name>.inbound`, as docs/asyncapi.yaml describes (channels partnerTokens and
 * partnerInbound). It reads no other topic. It performs `print-and-post`: it writes a print job (the address blocks
 * the tokens topic gives for the letter's recipients, and digests) and returns the token with its signed report.
 *
 * Only kafkajs and node:crypto: no Sigillum code.
 *
 *   node partner.js key DIR      makes DIR/signing-key.pem (once, mode 0600) and prints the public key to certify
 *   node partner.js run DIR      answers tokens, with DIR/partner.json, DIR/certificate.pem and DIR/ca.pem
 *
 * DIR/partner.json: { "name": "acme-post", "operatorId": "...", "keyId": "...", "certificateId": "...",
 *                     "brokers": ["127.0.0.1:9092"] }   (KAFKA_BROKERS overrides brokers)
 * Optional environment: KAFKA_SASL_MECHANISM (scram-sha-512...), KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD_FILE,
 * KAFKA_TOPIC_PREFIX (if the deployment prefixes its topics and groups on the wire).
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
  const keys = Object.keys(value)
    .filter((key) => value[key] !== undefined)
    .sort(); // UTF-16 code unit order
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
const joinOf = (consumer) =>
  new Promise((resolve) => {
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

/** Resolves once `name` exists (the processor creates it at start; so does `kafka.sh add-partner`): never auto-created here. */
async function topicExists(kafka, name) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (let said = false; ; said = true) {
      if ((await admin.listTopics()).includes(name)) return;
      if (!said) log(`waiting for ${name} (the processor creates it when it starts with PROCESSOR_PARTNERS naming this partner)`);
      await sleep(1_000);
    }
  } finally {
    await admin.disconnect();
  }
}

async function runCommand(dir) {
  const identity = loadIdentity(dir);
  // KAFKA_TOPIC_PREFIX, if the deployment sets one, is put before every topic and group name on the wire.
  const prefix = process.env.KAFKA_TOPIC_PREFIX || '';
  const topic = (name) => `${prefix}${name}`;
  const inbound = topic(`sigillum.partner.${identity.name}.inbound`);
  const tokensTopic = topic(`sigillum.partner.${identity.name}.tokens`);
  const kafka = kafkaOf(identity);
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();

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

  /**
   * print-and-post: one letter per recipient the tokens topic names, with the address block it gives (name, address
   * lines, country, as the directory holds them); a recipient without one cannot be posted to.
   */
  async function printAndPost(token, recipients) {
    if (recipients.length === 0) return { failure: [{ rule: 'recipients.missing', message: 'no recipient to post the letter to' }] };
    const missing = recipients.filter((recipient) => !Array.isArray(recipient.addressBlock) || recipient.addressBlock.length === 0);
    if (missing.length > 0) {
      return {
        failure: missing.map((recipient) => ({ rule: 'address.missing', message: `no postal address and country for recipient ${recipient.recipientId}` })),
      };
    }
    const letters = recipients.map((recipient) => ({
      recipientId: recipient.recipientId,
      addressBlock: recipient.addressBlock,
      contentDigest: token.inputDigest,
      correspondenceId: token.correspondenceId,
    }));
    const printJobId = `print-job-${token.tokenId}`;
    const file = path.join(identity.printJobsDir, `${printJobId}.json`);
    const job = {
      format: 'sigillum.print-job/1',
      printJobId,
      tokenId: token.tokenId,
      correspondenceId: token.correspondenceId,
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

  async function answer(token, recipients) {
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
    const done =
      token.step === 'print-and-post'
        ? await printAndPost(token, Array.isArray(recipients) ? recipients : [])
        : { failure: [{ rule: 'step.not-offered', message: `this partner performs print-and-post, not ${token.step}` }] };
    if (done.failure) {
      const failedAt = new Date().toISOString();
      await send('sigillum.partner.ReportStepFailure', {
        ...who(token),
        reasons: done.failure,
        failedAt,
        signature: signDetached({ tokenId: token.tokenId, reasons: done.failure, failedAt }, identity),
      });
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

  // The tokens: the processor puts on our own topic each token issued to our operator (sigillum.partner.TokenIssued:
  // the token as the certifier signed it, its signature, and for print-and-post the recipients' address blocks).
  await topicExists(kafka, tokensTopic);
  const seen = new Set(); // ce_id of the records answered while this process runs: a redelivered record is dropped
  const tokens = kafka.consumer({ groupId: topic(`sigillum.partner.${identity.name}.tokens`), allowAutoTopicCreation: false });
  const joined = joinOf(tokens);
  await tokens.connect();
  // From the beginning the first time this group runs (then from its committed offsets): no token is missed.
  await tokens.subscribe({ topic: tokensTopic, fromBeginning: true });
  await tokens.run({
    eachMessage: async ({ message }) => {
      const id = String(message.headers.ce_id || '');
      if (String(message.headers.ce_type || '') !== 'sigillum.partner.TokenIssued' || seen.has(id)) return;
      const data = jsonOf(message);
      if (!data || !data.token) return;
      if (data.token.operatorId !== identity.operatorId) {
        log(`token ${data.token.tokenId} ignored: issued to operator ${data.token.operatorId}, not us`);
        return;
      }
      if (!certifierSigned(data.token, data.signature, identity.ca)) {
        log(`token ${data.token.tokenId} ignored: not signed by the Sigillum certifier`);
        return;
      }
      await answer(data.token, data.recipients);
      seen.add(id);
    },
  });
  await joined;
  log(`partner ${identity.name} (operator ${identity.operatorId}) answering its tokens from ${tokensTopic} on ${inbound}`);

  const stop = async () => {
    await Promise.allSettled([tokens.disconnect(), producer.disconnect()]);
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
