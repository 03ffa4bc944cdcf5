// `key=value` and `key-` arguments of `label`, checked as Kubernetes checks label keys and values.
import { CliError } from './errors.js';

const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export interface LabelChanges {
  set: Record<string, string>;
  remove: string[];
}

export function parseLabelArgs(args: string[]): LabelChanges {
  const set: Record<string, string> = {};
  const remove: string[] = [];
  for (const a of args) {
    if (a.endsWith('-') && !a.includes('=')) {
      remove.push(a.slice(0, -1));
      continue;
    }
    const eq = a.indexOf('=');
    if (eq <= 0) throw new CliError(`error: invalid label spec: ${a}`);
    const key = a.slice(0, eq);
    const value = a.slice(eq + 1);
    if (!LABEL_KEY.test(key) || key.length > 317) throw new CliError(`error: invalid label spec: ${a}: invalid label key "${key}"`);
    if (!LABEL_VALUE.test(value) || value.length > 63)
      throw new CliError(
        `error: invalid label value: "${a}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`,
      );
    set[key] = value;
  }
  if (Object.keys(set).length === 0 && remove.length === 0) throw new CliError('error: at least one label update is required');
  return { set, remove };
}
