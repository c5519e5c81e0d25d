'use strict';
/*
 * Connection options shared by scripts/kafka-wait.js and scripts/kafka-acls.js:
 *
 *   --brokers 127.0.0.1:9092                  (default: $KAFKA_BROKERS, else 127.0.0.1:9092)
 *   --sasl scram-sha-512 --username admin --password-file <file>
 *                                             (default: $KAFKA_SASL_MECHANISM, $KAFKA_SASL_USERNAME,
 *                                              $KAFKA_SASL_PASSWORD_FILE; none: no SASL)
 *   --prefix staging.                         (default: $KAFKA_TOPIC_PREFIX, else none) the deployment's prefix of
 *                                              every topic and group name on the wire, as the apps use it
 *
 * The password is only ever read from a file and never printed.
 */
const fs = require('node:fs');

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

function fail(message) {
  console.error(message);
  process.exit(2);
}

/** { brokers, sasl? } for `new Kafka(...)`, from the command line (or the KAFKA_* variables). */
function connectionOptions() {
  const brokers = arg('brokers', process.env.KAFKA_BROKERS || '127.0.0.1:9092')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const mechanism = arg('sasl', process.env.KAFKA_SASL_MECHANISM || '').toLowerCase();
  if (!mechanism) return { brokers };
  if (!['plain', 'scram-sha-256', 'scram-sha-512'].includes(mechanism)) fail(`--sasl ${mechanism}: use plain, scram-sha-256 or scram-sha-512`);
  const username = arg('username', process.env.KAFKA_SASL_USERNAME);
  const file = arg('password-file', process.env.KAFKA_SASL_PASSWORD_FILE);
  if (!username || !file) fail('--sasl needs --username and --password-file');
  let password;
  try {
    password = fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (e) {
    fail(`cannot read the password file ${file}: ${e.code || e.message}`);
  }
  return { brokers, sasl: { mechanism, username, password } };
}

/** KAFKA_TOPIC_PREFIX (or --prefix): put before every topic and group name on the wire; '' for none. */
function topicPrefix() {
  const prefix = arg('prefix', process.env.KAFKA_TOPIC_PREFIX || '');
  if (!/^[A-Za-z0-9._-]{0,64}$/.test(prefix)) fail(`--prefix "${prefix}": up to 64 letters, digits, '.', '_' or '-'`);
  return prefix;
}

module.exports = { arg, connectionOptions, topicPrefix };
