// Builds findings for an entry, with the source position of the field they are about.
import type { Finding, FindingLevel } from '../finding.js';
import type { Entry } from '../snapshot.js';

export function report(entry: Entry, code: string, level: FindingLevel, message: string, path = 'metadata.name'): Finding {
  const origin = entry.position(path);
  return {
    code,
    level,
    message,
    resource: { kind: entry.kind, ...(entry.namespace ? { namespace: entry.namespace } : {}), name: entry.name },
    ...(origin ? { origin } : {}),
  };
}

export function ref(namespace: string, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}
