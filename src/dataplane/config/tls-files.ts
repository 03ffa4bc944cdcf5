// TLS material named by path in a config is read here, by the proxy itself (as Envoy reads files
// mounted into its pod): the control plane passes paths through and never ships their content.
import { readFileSync } from 'node:fs';
import type { Cluster, Listener, ProxyConfig } from '../../proxyconfig/types.js';
import { ConfigError } from '../routing/errors.js';

type Read = (path: string) => string;

/** Fields that hold PEM text or a file path. */
const TLS_FILE_FIELDS = new Set(['caCertificates', 'clientCertificate', 'privateKey', 'certificateChain']);

const readFile: Read = (path) => readFileSync(path, 'utf8');

function material(value: string | undefined, where: string, read: Read): string | undefined {
  if (value === undefined || value === '' || value.includes('-----BEGIN')) return value;
  if (!value.startsWith('/')) throw new ConfigError(`${where}: neither PEM nor an absolute file path`);
  try {
    return read(value);
  } catch (err) {
    throw new ConfigError(`${where}: cannot read ${value}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** A copy of cfg whose TLS fields hold PEM text (files read now); cfg itself is left as it came (paths, for config_dump). */
export function withTlsFiles(cfg: ProxyConfig, read: Read = readFile): ProxyConfig {
  const hasFiles = (o: object | undefined): boolean =>
    o !== undefined && Object.entries(o).some(([k, v]) => TLS_FILE_FIELDS.has(k) && typeof v === 'string' && v !== '' && !v.includes('-----BEGIN'));
  if (!Array.isArray(cfg.clusters) || !Array.isArray(cfg.listeners)) return cfg;
  const clusters = cfg.clusters.map((c: Cluster, i): Cluster => {
    if (!c.tls || !hasFiles(c.tls)) return c;
    const where = `clusters[${i}] (${c.name}): tls`;
    const t = c.tls;
    return {
      ...c,
      tls: {
        ...t,
        ...(t.caCertificates !== undefined ? { caCertificates: material(t.caCertificates, `${where}.caCertificates`, read)! } : {}),
        ...(t.clientCertificate !== undefined ? { clientCertificate: material(t.clientCertificate, `${where}.clientCertificate`, read)! } : {}),
        ...(t.privateKey !== undefined ? { privateKey: material(t.privateKey, `${where}.privateKey`, read)! } : {}),
      },
    };
  });
  const listeners = cfg.listeners.map((l: Listener, i): Listener => {
    const t = 'tls' in l ? l.tls : undefined;
    // ISTIO_MUTUAL takes the proxy's own workload identity, no files of the config's.
    if (!t || t.mode === 'ISTIO_MUTUAL' || !hasFiles(t)) return l;
    const where = `listeners[${i}] (${l.name}): tls`;
    return {
      ...l,
      tls: {
        ...t,
        certificateChain: material(t.certificateChain, `${where}.certificateChain`, read)!,
        privateKey: material(t.privateKey, `${where}.privateKey`, read)!,
        ...(t.caCertificates !== undefined ? { caCertificates: material(t.caCertificates, `${where}.caCertificates`, read)! } : {}),
      },
    } as Listener;
  });
  return { ...cfg, clusters, listeners };
}
