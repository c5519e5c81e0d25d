/** What both demos share: a narrator printing each step with the events it recorded, and a small HTTP client. */
import type { EventStore } from '@sigillum/eventstore';

export const bold = (text: string) => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[0m` : text);
export const dim = (text: string) => (process.stdout.isTTY ? `\x1b[2m${text}\x1b[0m` : text);

export class Narrator {
  private step = 0;
  private position = -1n;

  constructor(private readonly store: EventStore) {}

  async skipHistory(): Promise<void> {
    const all = await this.store.readAll();
    if (all.length) this.position = all[all.length - 1].globalPosition;
  }

  title(text: string): void {
    this.step += 1;
    process.stdout.write(`\n${bold(`${this.step}. ${text}`)}\n`);
  }

  say(text: string): void {
    process.stdout.write(`   ${text}\n`);
  }

  /** Prints the events recorded since the last call, waiting briefly for the roles that react asynchronously. */
  async events(settleMs = 300): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    const fresh = (await this.store.readAll()).filter((e) => e.globalPosition > this.position);
    for (const recorded of fresh) {
      this.position = recorded.globalPosition;
      process.stdout.write(`   ${dim('event')} ${recorded.streamId.padEnd(48)} ${bold(recorded.event.type)} ${dim(summary(recorded.event.data))}\n`);
    }
  }
}

/** A one-line view of an event's data without long values (verifiers, PEMs). */
export function summary(data: unknown): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries((data ?? {}) as Record<string, unknown>)) {
    if (/Pem$|verifier|Digest$|fingerprint|signature|jws|proof|^record$/i.test(key)) continue;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      if (/Id$/.test(key) && typeof value === 'string' && value.length > 12) continue;
      parts.push(`${key}=${String(value).slice(0, 40)}`);
    } else if (key === 'verdicts' && Array.isArray(value)) {
      parts.push(`verdicts=[${value.map((v: { subjectRole: string; levelHeld: string | null }) => `${v.subjectRole}:${v.levelHeld ?? 'none'}`).join(' ')}]`);
    } else if (key === 'token' && value && typeof value === 'object') {
      const token = value as { step?: string; attempt?: number; operatorId?: string };
      parts.push(`step=${token.step} attempt=${token.attempt}`);
    } else if (key === 'report' && value && typeof value === 'object') {
      parts.push(`step=${(value as { step?: string }).step}`);
    } else if (key === 'channel' && value && typeof value === 'object') {
      parts.push(`channel=${(value as { maskedAddress?: string }).maskedAddress ?? ''}`);
    }
  }
  return parts.join(' ');
}

export async function call(base: string, method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${base}${url}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const json = text ? JSON.parse(text) : {};
  if (response.status >= 400) {
    throw new Error(`${method} ${url} answered ${response.status}: ${text}`);
  }
  return json;
}

