// `outpost proxy-status`: every connected proxy and whether it has ACKed the config the
// control plane holds for it (SYNCED), not yet (STALE), or was never sent one (NOT SENT).
import type { Command } from 'commander';
import type { ProxyStatusRow } from '../../proxyconfig/distribution/protocol.js';
import type { WorkloadInfo } from '../../runtime/workloads.js';
import { connect, withStateDir } from '../connect.js';
import { formatTable } from '../printers/table.js';
import { outpostVersion } from './version.js';

export function syncState(row: ProxyStatusRow | undefined): string {
  if (!row || row.sentVersion === '') return 'NOT SENT';
  if (row.nackError) return 'STALE (NACK)';
  return row.synced ? 'SYNCED' : 'STALE';
}

export function registerProxyStatus(program: Command): void {
  withStateDir(
    program
      .command('proxy-status')
      .alias('ps')
      .description('Show whether every proxy has the latest config')
      .argument('[proxy]', 'one proxy (<pod>.<namespace>)')
      .option('-n, --namespace <ns>', 'only proxies of this namespace')
      .option('-o, --output <format>', 'short (table) | json', 'short'),
  ).action(async (proxy: string | undefined, opts: { namespace?: string; output: string; stateDir?: string }) => {
    const mesh = await connect(opts.stateDir);
    const rows = await mesh.control.get<ProxyStatusRow[]>('/v1/proxy-status');
    const workloads = await mesh.control.get<WorkloadInfo[]>('/v1/workloads');
    const byId = new Map(rows.map((r) => [r.id, r]));
    // Running workloads that never connected show as NOT SENT, as istioctl shows disconnected proxies.
    const ids = [...new Set([...rows.map((r) => r.id), ...workloads.map((w) => w.proxyId)])]
      .filter((id) => (proxy === undefined || id === proxy) && (opts.namespace === undefined || id.endsWith(`.${opts.namespace}`)))
      .sort();
    if (opts.output === 'json') {
      process.stdout.write(
        JSON.stringify(
          ids.map((id) => byId.get(id) ?? { id, sentVersion: '', ackedVersion: '', synced: false }),
          null,
          2,
        ) + '\n',
      );
      return;
    }
    const version = outpostVersion();
    const table = ids.map((id) => {
      const s = syncState(byId.get(id));
      return [id, 'Kubernetes', s, s, s, s, `outpost-${mesh.endpoint.pid}`, version];
    });
    process.stdout.write(formatTable(['NAME', 'CLUSTER', 'CDS', 'LDS', 'EDS', 'RDS', 'ISTIOD', 'VERSION'], table));
  });
}
