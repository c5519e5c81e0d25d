/** The base URLs of each remote role, handed out in turn: each request starts at the next URL and falls back on the others. */
export class RoundRobin {
  private readonly next = new Map<string, number>();

  constructor(private readonly urls: Readonly<Record<string, readonly string[]>>) {}

  roles(): string[] {
    return Object.keys(this.urls);
  }

  all(role: string): readonly string[] {
    return this.urls[role] ?? [];
  }

  /** Every URL of the role, starting with this request's turn. */
  order(role: string): string[] {
    const urls = this.all(role);
    if (urls.length === 0) return [];
    const start = (this.next.get(role) ?? 0) % urls.length;
    this.next.set(role, start + 1);
    return [...urls.slice(start), ...urls.slice(0, start)];
  }
}
