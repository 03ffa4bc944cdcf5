// `outpost up --example` (npm start): the seed's Istio-API flow against httpbin.org, with a local
// stand-in for httpbin.org that the proxies find through a generated hosts file.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatLoadError, loadSources } from '../api/load.js';
import type { KubeObject } from '../api/object.js';
import { kindFor } from '../api/kinds.js';
import { httpbinHandler, startHttpStandIn, type StandInServer } from './httpbin-stand-in.js';

export const EXAMPLE_DIR = fileURLToPath(new URL('../../examples/seed-istio-api/', import.meta.url));

export async function loadExample(): Promise<KubeObject[]> {
  const loaded = await loadSources({ paths: [EXAMPLE_DIR] });
  if (loaded.errors.length > 0) throw new Error(`the example in ${EXAMPLE_DIR} does not load:\n${loaded.errors.map((e) => formatLoadError(e)).join('\n')}`);
  return loaded.documents.map((d) => {
    const o = structuredClone(d.object);
    if (kindFor(o.apiVersion, o.kind)?.namespaced) o.metadata.namespace ??= 'default';
    return o;
  });
}

/** Starts the httpbin.org stand-in on `address`:80 and writes a hosts file naming it. */
export async function startExampleExternals(stateDir: string, address: string): Promise<{ hostsFile: string; servers: StandInServer[] }> {
  const httpbin = await startHttpStandIn(address, 80, httpbinHandler);
  const hostsFile = join(stateDir, 'example-hosts');
  writeFileSync(hostsFile, `# written by outpost up --example: httpbin.org is a local stand-in\n${address} httpbin.org\n`);
  return { hostsFile, servers: [httpbin] };
}

export const EXAMPLE_NEXT_STEPS = [
  'Try it:',
  '  outpost exec -n curl -- curl -sS http://httpbin.org/get',
  '  outpost logs deployment/egressgw -n gw-ns --tail 1',
  '  outpost logs deployment/curl -n curl -c istio-proxy --tail 1',
  '  outpost proxy-config routes deployment/egressgw -n gw-ns',
  '  outpost get virtualservices -A',
  '  outpost dashboard                  # the live egress view in a browser',
];
