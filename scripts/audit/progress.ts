import { SingleBar } from 'cli-progress';

/** Progress on stderr: a bar on a terminal, one plain line per step when piped (logs stay readable). */
export interface Progress {
  tick(label: string): void;
  stop(): void;
}

export function progress(what: string, total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (stream.isTTY) {
    const bar = new SingleBar({ format: `${what} [{bar}] {value}/{total} {label}`, stream, hideCursor: true, clearOnComplete: false }, undefined);
    bar.start(total, 0, { label: '' });
    return {
      tick: (label) => bar.increment(1, { label }),
      stop: () => bar.stop(),
    };
  }
  let done = 0;
  return {
    tick: (label) => {
      done += 1;
      stream.write(`${what} ${done}/${total} ${label}\n`);
    },
    stop: () => undefined,
  };
}
