// `proxy-config` tables in istioctl's shapes, from a ProxyConfig.
import { parseClusterName } from '../../proxyconfig/naming.js';
import type { Cluster, Listener, ProxyConfig, RouteMatch, StringMatch } from '../../proxyconfig/types.js';
import { formatTable } from './table.js';

export type ProxyConfigSection = 'clusters' | 'listeners' | 'routes' | 'endpoints';

function clusterRow(c: Cluster): string[] {
  const parsed = parseClusterName(c.name);
  const dr = (c as { destinationRule?: string }).destinationRule ?? '';
  if (!parsed) return [c.name, '-', '-', '-', c.type, dr];
  return [parsed.host, String(parsed.port), parsed.subset || '-', parsed.direction, c.type, dr];
}

function clustersTable(cfg: ProxyConfig): string {
  return formatTable(['SERVICE FQDN', 'PORT', 'SUBSET', 'DIRECTION', 'TYPE', 'DESTINATION RULE'], cfg.clusters.map(clusterRow), 5);
}

function listenerDestination(l: Listener): string {
  switch (l.protocol) {
    case 'HTTP':
      return `Route: ${l.routeTable}`;
    case 'TLS':
      return (
        l.chains.map((c) => `Cluster: ${c.route.clusters.map((w) => w.cluster).join(',')}`).join('; ') ||
        (l.defaultChain ? `Cluster: ${l.defaultChain.clusters.map((w) => w.cluster).join(',')}` : '-')
      );
    case 'TCP':
      return `Cluster: ${l.route.clusters.map((w) => w.cluster).join(',')}`;
    case 'OUTBOUND':
      return `${l.fallback.clusters.map((w) => w.cluster).join(',')}; Route: ${l.fallbackRouteTable}`;
  }
}

function listenerMatch(l: Listener): string {
  if (l.protocol === 'TLS') return l.chains.map((c) => `SNI: ${c.sniHosts.join(',')}`).join('; ') || 'ALL';
  if (l.protocol === 'HTTP') return l.tls ? 'Transport: tls' : 'ALL';
  return 'ALL';
}

function listenersTable(cfg: ProxyConfig): string {
  const rows = cfg.listeners.map((l) => [l.address, String(l.port), listenerMatch(l), listenerDestination(l)]);
  return formatTable(['ADDRESSES', 'PORT', 'MATCH', 'DESTINATION'], rows);
}

function stringMatch(m: StringMatch | undefined): string {
  if (!m) return '/*';
  if (m.kind === 'prefix') return `${m.value}*`;
  if (m.kind === 'exact') return m.value;
  // A segment prefix: /foo and everything under /foo/.
  if (m.kind === 'pathPrefix') return `${m.value}/*`;
  return `~${m.value}`;
}

function routeMatch(m: RouteMatch): string {
  const parts = [stringMatch(m.path)];
  if (m.method) parts.push(`method ${stringMatch(m.method)}`);
  if (m.headers?.length) parts.push(`${m.headers.length} header(s)`);
  return parts.join(' ');
}

/** istioctl shows a route's VirtualService as `<name>.<namespace>`. */
function virtualServiceOf(source: string | undefined): string {
  if (!source) return '';
  const m = /\/namespaces\/([^/]+)\/[^/]+\/([^/]+)$/.exec(source);
  return m ? `${m[2]}.${m[1]}` : source;
}

function routesTable(cfg: ProxyConfig): string {
  const rows: string[][] = [];
  for (const rt of cfg.routeTables) {
    for (const vh of rt.virtualHosts) {
      for (const r of vh.routes) {
        rows.push([rt.name, vh.name, vh.domains.join(', '), routeMatch(r.match), virtualServiceOf(r.source ?? r.name)]);
      }
      if (vh.routes.length === 0) rows.push([rt.name, vh.name, vh.domains.join(', '), '-', '']);
    }
  }
  return formatTable(['NAME', 'VHOST NAME', 'DOMAINS', 'MATCH', 'VIRTUAL SERVICE'], rows);
}

function endpointsTable(cfg: ProxyConfig): string {
  const rows: string[][] = [];
  for (const c of cfg.clusters) for (const e of c.endpoints) rows.push([`${e.address}:${e.port}`, 'HEALTHY', 'OK', c.name]);
  return formatTable(['ENDPOINT', 'STATUS', 'OUTLIER CHECK', 'CLUSTER'], rows);
}

export function proxyConfigTable(cfg: ProxyConfig, section: ProxyConfigSection): string {
  switch (section) {
    case 'clusters':
      return clustersTable(cfg);
    case 'listeners':
      return listenersTable(cfg);
    case 'routes':
      return routesTable(cfg);
    case 'endpoints':
      return endpointsTable(cfg);
  }
}
