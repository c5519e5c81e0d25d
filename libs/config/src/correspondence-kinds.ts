import * as fs from 'node:fs';
import { type CorrespondenceKind, DEFAULT_CORRESPONDENCE_KINDS, DEFAULT_TRUST_LEVELS, PROCESSING_STEPS, type ProcessingStep } from '@sigillum/contracts';
import { ConfigError } from './config';

/**
 * Kinds of correspondence are configuration: CORRESPONDENCE_KINDS_FILE names a JSON file holding an array of kinds
 * `{ name, requiredLevel, consignment: 'basic'|'consent', chain: [step...] }`; unset, the defaults (simple,
 * registered, registered-ack, hybrid) apply. A file that does not validate stops the process with every problem named.
 */
export function loadCorrespondenceKinds(
  env: Readonly<Record<string, string | undefined>>,
  levels: readonly string[] = DEFAULT_TRUST_LEVELS,
): readonly CorrespondenceKind[] {
  const file = env.CORRESPONDENCE_KINDS_FILE?.trim();
  if (!file) return DEFAULT_CORRESPONDENCE_KINDS;
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError([`CORRESPONDENCE_KINDS_FILE="${file}" cannot be read as JSON (${(error as Error).message}); fix the file or unset the variable`]);
  }
  return validateCorrespondenceKinds(raw, levels, `CORRESPONDENCE_KINDS_FILE (${file})`);
}

export function validateCorrespondenceKinds(raw: unknown, levels: readonly string[], origin: string): readonly CorrespondenceKind[] {
  const problems: string[] = [];
  if (!Array.isArray(raw) || raw.length === 0) throw new ConfigError([`${origin} must hold a non-empty JSON array of kinds`]);
  const names = new Set<string>();
  const kinds: CorrespondenceKind[] = [];
  raw.forEach((item, index) => {
    const at = `${origin}[${index}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      problems.push(`${at} must be an object`);
      return;
    }
    const { name, requiredLevel, consignment, chain, ...rest } = item as Record<string, unknown>;
    for (const unknown of Object.keys(rest)) problems.push(`${at}.${unknown} is not a field of a kind (name, requiredLevel, consignment, chain)`);
    if (typeof name !== 'string' || !/^[a-z][a-z0-9-]{0,39}$/.test(name)) problems.push(`${at}.name must match ^[a-z][a-z0-9-]{0,39}$`);
    else if (names.has(name)) problems.push(`${at}.name "${name}" is defined twice`);
    else names.add(name);
    if (typeof requiredLevel !== 'string' || !levels.includes(requiredLevel)) problems.push(`${at}.requiredLevel must be one of ${levels.join(', ')}`);
    if (consignment !== 'basic' && consignment !== 'consent') problems.push(`${at}.consignment must be basic or consent`);
    const steps = Array.isArray(chain) ? chain : [];
    if (!Array.isArray(chain) || chain.length === 0) problems.push(`${at}.chain must be a non-empty array of steps`);
    steps.forEach((step, i) => {
      if (!PROCESSING_STEPS.includes(step as ProcessingStep)) problems.push(`${at}.chain[${i}] must be one of ${PROCESSING_STEPS.join(', ')}`);
    });
    if (new Set(steps).size !== steps.length) problems.push(`${at}.chain must not repeat a step`);
    if (!steps.includes('deliver') && !steps.includes('print-and-post'))
      problems.push(`${at}.chain must hand the correspondence over: include deliver or print-and-post`);
    kinds.push({
      name: name as string,
      requiredLevel: requiredLevel as string,
      consignment: consignment as 'basic' | 'consent',
      chain: steps as ProcessingStep[],
    });
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return kinds;
}
