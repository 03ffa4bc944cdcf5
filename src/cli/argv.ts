// The raw command line of this run, for the one verb that must see where `--` was (exec).
let current: readonly string[] = [];

export function setRawArgv(argv: readonly string[]): void {
  current = argv;
}

/** Arguments after the first `--`, or undefined when there was none. */
export function argsAfterDoubleDash(): string[] | undefined {
  const i = current.indexOf('--');
  return i < 0 ? undefined : current.slice(i + 1);
}
