// The regulator's kit: npm run audit -- <command> [options]   (npm run audit -- --help)
//
// export       one self-contained bundle of correspondences' evidence, proofs, checkpoints, keys and certificates
//              (named, a party's, or every correspondence submitted in a time range)
// verify       a bundle, offline: checkpoint signatures, leaves, inclusion proofs, chains, completeness
// consistency  an old and a new checkpoint: both signed, the new tree extends the old (proof fetched or given)
// checkpoint   saves the latest signed checkpoint (for a later consistency check)
// fsck         re-derives the whole log from the tiles served and compares with the latest signed checkpoint;
//              with --store, also from the event store itself, naming each record deleted, edited or reordered there
// replay       has the server rebuild the mailbox and audit read models from position 0 into a scratch database and
//              compares their digests with the live ones
import * as fs from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { readBundle } from './bundle';
import { checkConsistency, readNote, readProof, serverProof } from './consistency';
import { EXIT, EXIT_CODES_HELP, ServerError, UsageError } from './errors';
import { exportBundle } from './export';
import { fsck } from './fsck';
import { readStoredEvidence } from './store-evidence';
import { AuditClient, tokenOf } from './http';
import { keyText, verifierOf } from './keys';
import { progress } from './progress';
import { DEFAULT_PROJECTIONS, replayProjections } from './replay';
import { verifyBundle } from './verify';

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);
const collect = (value: string, previous: string[]) => [...previous, value];
const time = (value: string) => {
  const at = new Date(value);
  if (Number.isNaN(at.getTime())) throw new InvalidArgumentError('not an ISO-8601 time (e.g. 2026-03-02T09:00:00Z)');
  return at;
};
const milliseconds = (value: string) => {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('not a number of milliseconds');
  return Number(value);
};
const serverOption = () => new Option('--server <url>', 'the Sigillum gateway (e.g. http://127.0.0.1:3000)').makeOptionMandatory();
const tokenOption = () =>
  new Option('--token <token>', "an auditor's staff token (default: the SIGILLUM_TOKEN environment variable, which keeps it out of ps and shell history)");

function program(): Command {
  const root = new Command('audit')
    .description(
      "The regulator's kit for Sigillum's evidence transparency log: export evidence with its proofs, verify it offline, check that the log only grows.",
    )
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) })
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', `${EXIT_CODES_HELP}\n\nProgress goes to stderr (a bar on a terminal, plain lines when piped); results to stdout.`);

  root
    .command('export')
    .summary('export correspondences with their proofs into one self-contained bundle')
    .description(
      'Export correspondences into one self-contained bundle: records (with their JWS), leaf indexes and inclusion proofs, the signed checkpoint they rest on (and its RFC 3161 time-stamp), the log verifier key, the CA and TSA certificates, and what the server had (so verify finds a dropped record). ' +
        "Name them with --correspondence, take a party's with --party, or give a time range (--since and/or --until) without --party: every correspondence whose first evidence (the submission) falls in it, listed page by page through GET /audit/correspondences (progress on stderr).",
    )
    .addOption(serverOption())
    .addOption(tokenOption())
    .option('--correspondence <id>', 'a correspondence to export (repeatable)', collect, [])
    .option('--party <id>', 'every correspondence in which this party has evidence (GET /audit/parties/:id; repeatable)', collect, [])
    .option(
      '--since <time>',
      "with --party: only the party's evidence at or after this time; without --party: every correspondence submitted (first evidence) at or after it",
      time,
    )
    .option(
      '--until <time>',
      "with --party: only the party's evidence at or before this time; without --party: every correspondence submitted (first evidence) at or before it",
      time,
    )
    .option('--wait <ms>', 'wait up to this long for a checkpoint to cover fresh records', milliseconds, 10_000)
    .requiredOption('--out <bundle.json>', 'where to write the bundle')
    .addHelpText(
      'after',
      `${EXIT_CODES_HELP}\n\nExamples:\n  SIGILLUM_TOKEN=... npm run audit -- export --server http://127.0.0.1:3000 --correspondence <id> --out bundle.json\n` +
        '  SIGILLUM_TOKEN=... npm run audit -- export --server http://127.0.0.1:3000 --since 2026-03-01T00:00:00Z --until 2026-03-31T23:59:59Z --out march.json',
    )
    .action(
      async (options: { server: string; token?: string; correspondence: string[]; party: string[]; since?: Date; until?: Date; wait: number; out: string }) => {
        const client = new AuditClient(options.server, tokenOf(options.token));
        await exportBundle(
          client,
          {
            correspondences: options.correspondence,
            parties: options.party,
            since: options.since,
            until: options.until,
            out: options.out,
            waitMs: options.wait,
          },
          out,
        );
        process.exitCode = EXIT.VALID;
      },
    );

  root
    .command('verify')
    .summary('verify a bundle offline, naming every failing record')
    .description(
      "Verify a bundle offline (no network): checkpoint signatures against the log key, each record's leaf = SHA-256(0x00 || canonical JSON), each inclusion proof to the signed root, each chain (previousEvidenceDigest links, JWS with x5c or x5t#S256 to the bundle's CA), the operators' quoted signatures (certificates by x5t#S256 from the bundle's certificates, to the CA), and that no record the server had is missing (first, middle or last).",
    )
    .argument('<bundle>', 'the bundle written by export')
    .option(
      '--key <vkey>',
      "the log's verifier key you expect (the text <name>+<hex id>+<base64>, or a file holding it); a bundle under another key is invalid",
    )
    .option('--json', 'print the report as JSON')
    .addHelpText('after', `${EXIT_CODES_HELP}\n\nExample:\n  npm run audit -- verify bundle.json --key "$(cat evidence-log.vkey)"`)
    .action((file: string, options: { key?: string; json?: boolean }) => {
      const bundle = readBundle(file);
      const pinnedKey = options.key === undefined ? undefined : keyText(options.key);
      const bar = progress('verify', bundle.correspondences.length);
      let report;
      try {
        report = verifyBundle(bundle, { pinnedKey, onCorrespondence: (id) => bar.tick(id) });
      } finally {
        bar.stop();
      }
      if (options.json) out(JSON.stringify({ valid: report.valid, keyId: report.keyId, problems: report.problems }, null, 2));
      else for (const line of report.lines) out(line);
      process.exitCode = report.valid ? EXIT.VALID : EXIT.INVALID;
    });

  root
    .command('consistency')
    .summary('check that a later checkpoint extends an earlier one')
    .description(
      'Check that a later checkpoint extends an earlier one: both notes signed by the log key, and the RFC 9162 consistency proof between them (fetched from --server, or read from --proof offline).',
    )
    .argument('<old-checkpoint>', 'the earlier signed checkpoint note (from "checkpoint --out", or GET /evidence-log/checkpoint)')
    .argument('<new-checkpoint>', 'the later signed checkpoint note')
    .option('--server <url>', 'fetch the proof (and the key, unless --key) from this gateway')
    .addOption(tokenOption())
    .option('--proof <file>', 'the proof, offline: the JSON answer of GET /evidence-log/consistency?from=&to=')
    .option('--key <vkey>', "the log's verifier key (text or file); required offline")
    .addHelpText(
      'after',
      `${EXIT_CODES_HELP}\n\nExamples:\n  npm run audit -- consistency old.note new.note --server http://127.0.0.1:3000 --key evidence-log.vkey\n  npm run audit -- consistency old.note new.note --proof proof.json --key evidence-log.vkey`,
    )
    .action(async (oldFile: string, newFile: string, options: { server?: string; token?: string; proof?: string; key?: string }) => {
      if (!options.server && !options.proof) throw new UsageError('give --server (to fetch the proof) or --proof <file> (offline)');
      if (options.server && options.proof) throw new UsageError('give either --server or --proof, not both');
      const oldNote = readNote(oldFile);
      const newNote = readNote(newFile);
      const client = options.server ? new AuditClient(options.server, tokenOf(options.token)) : undefined;
      if (!options.key && !client) throw new UsageError('offline, pass the log key with --key');
      const vkey = options.key ? keyText(options.key) : (await client!.text('/evidence-log/key', { auth: false })).trim();
      const verifier = verifierOf(vkey, options.key ? '--key' : 'the served key');
      const proof = options.proof ? readProof(options.proof) : undefined;
      const result = await checkConsistency(oldNote, newNote, verifier, async (from, to) => {
        if (!proof) return serverProof(client!, from, to);
        if ((proof.from !== undefined && proof.from !== from) || (proof.to !== undefined && proof.to !== to)) {
          throw new UsageError(
            `${options.proof} is the proof from size ${String(proof.from)} to ${String(proof.to)}, but the checkpoints are of sizes ${from} and ${to}`,
          );
        }
        return proof.proof;
      });
      for (const line of result.lines) out(line);
      process.exitCode = result.valid ? EXIT.VALID : EXIT.INVALID;
    });

  root
    .command('checkpoint')
    .summary('save the latest signed checkpoint (for a later consistency check)')
    .description('Save the latest signed checkpoint of the log (verified against the key first), for a later consistency check.')
    .addOption(serverOption())
    .addOption(tokenOption())
    .option('--key <vkey>', "the log's verifier key (text or file); default: the one the server publishes")
    .requiredOption('--out <file>', 'where to write the note')
    .addHelpText('after', EXIT_CODES_HELP)
    .action(async (options: { server: string; token?: string; key?: string; out: string }) => {
      const client = new AuditClient(options.server, tokenOf(options.token));
      const vkey = options.key ? keyText(options.key) : (await client.text('/evidence-log/key', { auth: false })).trim();
      const verifier = verifierOf(vkey, options.key ? '--key' : 'the served key');
      const note = await client.text('/evidence-log/checkpoint');
      const result = await checkConsistency(note, note, verifier, async () => [], ['latest', 'latest']);
      fs.writeFileSync(options.out, note);
      for (const line of result.lines.slice(0, 2)) out(line);
      out(`saved to ${options.out}`);
      process.exitCode = result.valid ? EXIT.VALID : EXIT.INVALID;
    });

  root
    .command('fsck')
    .summary('re-derive the whole log from the tiles served (and the store, with --store) and compare with the signed checkpoint')
    .description(
      'Re-derive the whole evidence log from the entry bundles and tiles the server serves: the rebuilt root against the latest signed checkpoint, every hash tile, every entry canonical, every correspondence chain contiguous and linked in log order.',
    )
    .addOption(serverOption())
    .addOption(tokenOption())
    .option('--key <vkey>', "the log's verifier key (text or file); default: the one the server publishes")
    .option(
      '--store <file-or-url>',
      "also re-derive the tree from the event store itself: the deployment's SQLite file (read-only) or a postgres:// URL; every record deleted, edited or reordered there is named",
    )
    .option('--pg-schema <name>', 'the PostgreSQL schema of the event store (PG_SCHEMA)', 'sigillum')
    .addHelpText('after', EXIT_CODES_HELP)
    .action(async (options: { server: string; token?: string; key?: string; store?: string; pgSchema: string }) => {
      const client = new AuditClient(options.server, tokenOf(options.token));
      const vkey = options.key ? keyText(options.key) : (await client.text('/evidence-log/key', { auth: false })).trim();
      const store = options.store ? await readStoredEvidence(options.store, options.pgSchema) : undefined;
      const result = await fsck(client, verifierOf(vkey, options.key ? '--key' : 'the served key'), store ? { store } : {});
      for (const line of result.lines) out(line);
      process.exitCode = result.valid ? EXIT.VALID : EXIT.INVALID;
    });

  root
    .command('replay')
    .summary('rebuild the read models from position 0 into a scratch place and compare digests with the live ones')
    .description(
      'Have the server rebuild read models from position 0 of the event log into a scratch SQLite database (POST /projections/:name/replay; the live read model is not touched) ' +
        "and compare the replay's digest with the live one, both at the live model's position read at the start. Prints both digests and row counts per projection; " +
        'exit 1 naming every projection whose live read model differs from what the log gives.',
    )
    .addOption(serverOption())
    .addOption(tokenOption())
    .option('--projection <name>', `a projection to replay (repeatable; default: ${DEFAULT_PROJECTIONS.join(' and ')})`, collect, [])
    .addHelpText(
      'after',
      `${EXIT_CODES_HELP}\n\nExample:\n  SIGILLUM_TOKEN=... npm run audit -- replay --server http://127.0.0.1:3000 --projection mailbox --projection audit`,
    )
    .action(async (options: { server: string; token?: string; projection: string[] }) => {
      const client = new AuditClient(options.server, tokenOf(options.token));
      const projections = options.projection.length > 0 ? [...new Set(options.projection)] : [...DEFAULT_PROJECTIONS];
      const result = await replayProjections(client, projections, out);
      process.exitCode = result.valid ? EXIT.VALID : EXIT.INVALID;
    });

  return root;
}

async function main(argv: readonly string[]): Promise<number> {
  const root = program();
  if (argv.length === 0) {
    root.outputHelp({ error: true });
    return EXIT.USAGE;
  }
  try {
    await root.parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.VALID;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help' ? EXIT.VALID : EXIT.USAGE;
    }
    if (error instanceof ServerError) {
      err(`audit: server: ${error.message}`);
      return EXIT.SERVER;
    }
    err(`audit: ${error instanceof UsageError ? '' : 'error: '}${(error as Error).message}`);
    return EXIT.USAGE;
  }
}

// A reader that stops early (| head) is not an error of ours.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : EXIT.VALID);
  throw error;
});
// Exit once stdout is flushed (a piped report must not be cut by process.exit).
main(process.argv.slice(2)).then((code) => process.stdout.write('', () => process.exit(code)));
