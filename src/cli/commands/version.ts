import type { Command } from 'commander';
import { readFileSync } from 'node:fs';

export function outpostVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** What `outpost version` prints; bin/outpost prints it without loading the command parser (start-up). */
export function versionLine(): string {
  return `outpost ${outpostVersion()} (node ${process.version})\n`;
}

export function registerVersion(program: Command): void {
  program
    .command('version')
    .description('Print the outpost version')
    .action(() => {
      process.stdout.write(versionLine());
    });
}
