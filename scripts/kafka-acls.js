#!/usr/bin/env node
'use strict';
/*
 * ACLs of the secure broker (bash scripts/kafka.sh start --secure), written with the kafkajs admin client
 * as the super user. Used by scripts/kafka.sh; each command is idempotent.
 *
 *   node scripts/kafka-acls.js <connection> app --user sigillum
 *       The app principal (it relays the event log and consumes it, in one process): CREATE, DESCRIBE,
 *       READ, WRITE on topics prefixed `sigillum.` and READ on groups prefixed `sigillum.`. It is the only
 *       principal (besides the super user) that may write `sigillum.<category>.events` and `<topic>.dlq`.
 *
 *   node scripts/kafka-acls.js <connection> partner --name acme [--read TOPIC|CATEGORY,...]
 *       Principal `User:partner-acme`: READ on its tokens topic `sigillum.partner.acme.tokens` (its own
 *       certification tokens and, for print-and-post, its letters' address blocks, written by the processor),
 *       WRITE and READ on its own inbound topic `sigillum.partner.acme.inbound` (its signed commands, read by the
 *       processor; READ gives it back only what it wrote), READ on its refusals `sigillum.partner.acme.inbound.dlq`,
 *       READ on groups prefixed `sigillum.partner.acme.`; both topics are created when missing. That is all a
 *       processing partner (the print-and-post one of examples/partner-operator included) needs: no event topic,
 *       neither `sigillum.chain.events` (every correspondence's tokens) nor `sigillum.party.events` (the whole
 *       directory). `--read` (none by default) adds READ on other topics for a partner whose contract covers them
 *       (a bare category `c` means `sigillum.c.events`). Nothing else: the broker denies what no ACL allows; in
 *       particular it writes no other partner's topic and no event topic.
 *       The partner's ACLs are set to exactly this (ACLs of an earlier grant that are not in the new one — e.g.
 *       READ on sigillum.chain.events and sigillum.party.events from before the tokens topic — are deleted).
 *
 *   node scripts/kafka-acls.js <connection> list
 *
 * <connection>: --brokers 127.0.0.1:9094 --sasl scram-sha-512 --username admin --password-file <file>
 * (kafka-client.js). Exit 0 on success, 1 on a broker error, 2 on a usage error.
 *
 * --prefix P (default $KAFKA_TOPIC_PREFIX): the deployment's KAFKA_TOPIC_PREFIX. Every `sigillum.` topic and group
 * named above (logical names, --read entries included) is granted as `P` + name on the wire, e.g. `staging.sigillum.`;
 * the app's per-instance view groups (`P` + `sigillum.<role>.view.<instanceId>`) fall under its group prefix.
 */
const { arg, connectionOptions, topicPrefix } = require('./kafka-client');
/** Logical name -> name on the wire (KAFKA_TOPIC_PREFIX). */
const wire = (name) => topicPrefix() + name;

let kafkajs;
try {
  kafkajs = require('kafkajs');
} catch (e) {
  console.error(`kafka-acls: cannot load kafkajs (${e.code || e.message}); run 'npm ci' in the repo root first.`);
  process.exit(2);
}
const { Kafka, logLevel, AclResourceTypes, AclOperationTypes, AclPermissionTypes, ResourcePatternTypes } = kafkajs;

const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;
const PARTNER_NAME = /^[a-z0-9][a-z0-9-]{0,40}$/;

const usage = (message) => {
  console.error(`kafka-acls: ${message}\nusage: node scripts/kafka-acls.js <connection> app --user NAME | partner --name NAME [--read T,...] | list`);
  process.exit(2);
};

const allow = (principal, resourceType, resourceName, patternType, operation) => ({
  principal,
  host: '*',
  resourceType,
  resourceName,
  resourcePatternType: patternType,
  operation,
  permissionType: AclPermissionTypes.ALLOW,
});

/** The app principal: the event log's only writer, and the consumer of every role. */
function appAcls(user) {
  const principal = `User:${user}`;
  const { TOPIC, GROUP } = AclResourceTypes;
  const { PREFIXED } = ResourcePatternTypes;
  const { CREATE, DESCRIBE, READ, WRITE } = AclOperationTypes;
  return [
    ...[CREATE, DESCRIBE, READ, WRITE].map((op) => allow(principal, TOPIC, wire('sigillum.'), PREFIXED, op)),
    allow(principal, GROUP, wire('sigillum.'), PREFIXED, READ),
  ];
}

const inboundTopicOf = (name) => wire(`sigillum.partner.${name}.inbound`);
const tokensTopicOf = (name) => wire(`sigillum.partner.${name}.tokens`);

/** What every partner operator reads: its own tokens topic and its own inbound dead letters (no event topic). */
const partnerBaseReadTopics = (name) => [tokensTopicOf(name), `${inboundTopicOf(name)}.dlq`];

function partnerReadTopics(list) {
  const topics = (list || '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => wire(entry.includes('.') ? entry : `sigillum.${entry}.events`));
  for (const topic of topics) {
    if (!TOPIC_NAME.test(topic)) usage(`--read entry "${topic}" is not a topic name (letters, digits, '.', '_', '-'; no wildcard)`);
  }
  return [...new Set(topics)];
}

function partnerAcls(name, readTopics) {
  const principal = `User:partner-${name}`;
  const { TOPIC, GROUP } = AclResourceTypes;
  const { LITERAL, PREFIXED } = ResourcePatternTypes;
  const { READ, WRITE } = AclOperationTypes;
  const inbound = inboundTopicOf(name);
  // Its tokens (sigillum.partner.<name>.tokens) and the dead letters of its own commands (why one was refused), always.
  const reads = [...new Set([...partnerBaseReadTopics(name), ...readTopics])].filter((t) => t !== inbound);
  return [
    allow(principal, TOPIC, inbound, LITERAL, WRITE),
    allow(principal, TOPIC, inbound, LITERAL, READ),
    ...reads.map((topic) => allow(principal, TOPIC, topic, LITERAL, READ)),
    allow(principal, GROUP, wire(`sigillum.partner.${name}.`), PREFIXED, READ),
  ];
}

const key = (a) => [a.principal, a.host, a.resourceType, a.resourceName, a.resourcePatternType, a.operation, a.permissionType].join('|');

/** Flattens a DescribeAcls answer into one entry per ACL. */
async function aclsOf(admin, principal) {
  const { resources } = await admin.describeAcls({
    resourceType: AclResourceTypes.ANY,
    resourcePatternType: ResourcePatternTypes.ANY,
    principal: principal || undefined,
    operation: AclOperationTypes.ANY,
    permissionType: AclPermissionTypes.ANY,
  });
  return resources.flatMap((r) =>
    r.acls.map((a) => ({
      principal: a.principal,
      host: a.host,
      resourceType: r.resourceType,
      resourceName: r.resourceName,
      resourcePatternType: r.resourcePatternType,
      operation: a.operation,
      permissionType: a.permissionType,
    })),
  );
}

/** Makes the principal's ACLs exactly `wanted`. */
async function setAcls(admin, principal, wanted) {
  const existing = await aclsOf(admin, principal);
  const wantedKeys = new Set(wanted.map(key));
  const existingKeys = new Set(existing.map(key));
  const extra = existing.filter((a) => !wantedKeys.has(key(a)));
  const missing = wanted.filter((a) => !existingKeys.has(key(a)));
  if (extra.length > 0) await admin.deleteAcls({ filters: extra });
  if (missing.length > 0) await admin.createAcls({ acl: missing });
  return { added: missing.length, removed: extra.length, total: wanted.length };
}

const nameOf = (table, value) => Object.keys(table).find((k) => table[k] === value) || String(value);

function describe(a) {
  const pattern = a.resourcePatternType === ResourcePatternTypes.PREFIXED ? '*' : '';
  return (
    `${nameOf(AclPermissionTypes, a.permissionType)} ${nameOf(AclOperationTypes, a.operation)} on ` +
    `${nameOf(AclResourceTypes, a.resourceType).toLowerCase()} ${a.resourceName}${pattern}`
  );
}

async function ensureTopic(admin, topic) {
  if ((await admin.listTopics()).includes(topic)) return false;
  const brokers = (await admin.describeCluster()).brokers.length;
  await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: Math.min(3, brokers) }], waitForLeaders: true });
  return true;
}

async function main() {
  const command = process.argv.slice(2).find((a, i, all) => !a.startsWith('--') && !(all[i - 1] || '').startsWith('--'));
  if (!command) usage('no command');
  const kafka = new Kafka({ clientId: 'sigillum-kafka-acls', ...connectionOptions(), logLevel: logLevel.NOTHING, retry: { retries: 5 } });
  const admin = kafka.admin();
  await admin.connect();
  try {
    switch (command) {
      case 'app': {
        const user = arg('user');
        if (!user || !/^[A-Za-z0-9._-]+$/.test(user)) usage('app needs --user NAME');
        const r = await setAcls(admin, `User:${user}`, appAcls(user));
        console.log(
          `kafka-acls: User:${user}: ${r.total} ACLs (${r.added} added, ${r.removed} removed): ` +
            `CREATE/DESCRIBE/READ/WRITE topics ${wire('sigillum.')}*, READ groups ${wire('sigillum.')}*`,
        );
        break;
      }
      case 'partner': {
        const name = arg('name');
        if (!name || !PARTNER_NAME.test(name)) usage('partner needs --name NAME (lower-case letters, digits, -)');
        const readTopics = partnerReadTopics(arg('read', ''));
        const inbound = inboundTopicOf(name);
        const created = await ensureTopic(admin, inbound);
        // The processor creates it too (at start, and at the partner's first token); created here so that the partner,
        // which may not create topics, can subscribe before either.
        const tokensCreated = await ensureTopic(admin, tokensTopicOf(name));
        const r = await setAcls(admin, `User:partner-${name}`, partnerAcls(name, readTopics));
        const reads = [...new Set([...partnerBaseReadTopics(name), ...readTopics])].map((t) =>
          t === tokensTopicOf(name) && tokensCreated ? `${t} (created)` : t,
        );
        console.log(
          `kafka-acls: User:partner-${name}: ${r.total} ACLs (${r.added} added, ${r.removed} removed): ` +
            `WRITE+READ ${inbound}${created ? ' (created)' : ''}; READ ${reads.join(', ')}; ` +
            `READ groups ${wire(`sigillum.partner.${name}.`)}*`,
        );
        break;
      }
      case 'list': {
        const all = await aclsOf(admin, null);
        const byPrincipal = new Map();
        for (const a of all) byPrincipal.set(a.principal, [...(byPrincipal.get(a.principal) || []), describe(a)]);
        if (byPrincipal.size === 0) console.log('(no ACLs: only the super user can do anything)');
        for (const [principal, lines] of [...byPrincipal].sort()) {
          console.log(principal);
          for (const line of lines.sort()) console.log(`  ${line}`);
        }
        break;
      }
      default:
        usage(`unknown command ${command}`);
    }
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

main().catch((e) => {
  console.error(`kafka-acls: ${e.message}${e.type ? ` (${e.type})` : ''}`);
  process.exit(1);
});
