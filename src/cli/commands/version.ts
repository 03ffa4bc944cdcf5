import type { Command } from 'commander';
import { readFileSync } from 'node:fs';

export function outpostVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function registerVersion(program: Command): void {
  program
    .command('version')
    .description('Print the outpost version')
    .action(() => {
      process.stdout.write(`outpost ${outpostVersion()} (node ${process.version})\n`);
    });
}
