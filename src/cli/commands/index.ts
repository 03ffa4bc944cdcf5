// Each verb lives in its own module; this list is the only place they are wired.
import type { Command } from 'commander';
import { registerVersion } from './version.js';

export function registerCommands(program: Command): void {
  registerVersion(program);
}
