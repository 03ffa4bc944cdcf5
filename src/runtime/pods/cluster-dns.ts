// The node's DNS server for pods (UDP, on the node's bridge address): Services' names
// (`<svc>.<ns>.svc.cluster.local` → cluster IP, headless → ready pod IPs), names of the mesh's
// hosts file, and everything else forwarded to the mesh's --dns-server.
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { PodNetworkError } from './node-network.js';
import { RCODE_NXDOMAIN, RCODE_SERVFAIL, TYPE_A, dnsAnswer as answer, parseQuestion } from '../../dataplane/dns/dns-message.js';
import { parseHostPort } from '../../proxyconfig/authority.js';

const FORWARD_TIMEOUT_MS = 5000;

export const CLUSTER_DOMAIN = 'cluster.local';

export interface ClusterDnsOptions {
  address: string;
  port?: number;
  /** `IP:PORT` other names go to. */
  upstream?: string;
  hostsFile?: string;
}

export class ClusterDns {
  private socket: Socket | undefined;
  /** Fully qualified Service names → addresses (a cluster IP, or a headless Service's pod IPs). */
  private records = new Map<string, string[]>();

  constructor(private readonly opts: ClusterDnsOptions) {}

  /** The bound UDP port (53 on the node; tests bind 0). */
  get port(): number | undefined {
    return this.socket?.address().port;
  }

  setRecords(records: Map<string, string[]>): void {
    this.records = records;
  }

  start(): Promise<void> {
    const socket = createSocket('udp4');
    this.socket = socket;
    socket.on(
      'message',
      (msg, rinfo) =>
        void this.handle(msg)
          .then((reply) => reply && socket.send(reply, rinfo.port, rinfo.address))
          .catch(() => undefined),
    );
    return new Promise((resolve, reject) => {
      socket.once('error', (err: NodeJS.ErrnoException) =>
        reject(new PodNetworkError(`the pods' DNS server cannot bind ${this.opts.address}:${this.opts.port ?? 53}/udp: ${err.code ?? err.message}`)),
      );
      socket.bind(this.opts.port ?? 53, this.opts.address, () => {
        socket.removeAllListeners('error');
        socket.on('error', () => undefined);
        resolve();
      });
    });
  }

  private async handle(msg: Buffer): Promise<Buffer | undefined> {
    const q = parseQuestion(msg);
    if (!q) return undefined;
    const name = q.name.replace(/\.$/, '');
    if (name === CLUSTER_DOMAIN || name.endsWith(`.${CLUSTER_DOMAIN}`)) {
      const addrs = this.records.get(name);
      if (!addrs) return answer(msg, q, RCODE_NXDOMAIN, []);
      // Known name, other type (AAAA): NOERROR and no records, as Istio's DNS proxy answers.
      return answer(msg, q, 0, q.type === TYPE_A ? addrs : []);
    }
    const fromHosts = this.hostsEntry(name);
    if (fromHosts) return answer(msg, q, 0, q.type === TYPE_A ? fromHosts : []);
    if (this.opts.upstream) return (await this.forward(msg)) ?? answer(msg, q, RCODE_SERVFAIL, []);
    return answer(msg, q, RCODE_NXDOMAIN, []);
  }

  private hostsEntry(name: string): string[] | undefined {
    if (!this.opts.hostsFile) return undefined;
    let text = '';
    try {
      text = readFileSync(this.opts.hostsFile, 'utf8');
    } catch {
      return undefined;
    }
    const out: string[] = [];
    for (const line of text.split('\n')) {
      const [ip, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
      if (ip && isIPv4(ip) && names.some((n) => n.toLowerCase() === name)) out.push(ip);
    }
    return out.length ? out : undefined;
  }

  /** Relays the query to the upstream server and its answer back (undefined: no answer in time). */
  private forward(msg: Buffer): Promise<Buffer | undefined> {
    const upstream = parseHostPort(this.opts.upstream!);
    if (!upstream) return Promise.resolve(undefined);
    const host = upstream.host;
    const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    return new Promise((resolve) => {
      const done = (reply: Buffer | undefined): void => {
        clearTimeout(timer);
        sock.close();
        resolve(reply);
      };
      const timer = setTimeout(() => done(undefined), FORWARD_TIMEOUT_MS);
      sock.on('message', (reply) => done(reply));
      sock.on('error', () => done(undefined));
      sock.send(msg, upstream.port, host);
    });
  }

  close(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    return new Promise((resolve) => (s ? s.close(() => resolve()) : resolve()));
  }
}

/** A pod's resolv.conf: the node's DNS server, Kubernetes' search path for its namespace, ndots 5. */
export function podResolvConf(nameserver: string, namespace: string): string {
  return `# written by outpost for a pod of namespace ${namespace}\nnameserver ${nameserver}\nsearch ${namespace}.svc.${CLUSTER_DOMAIN} svc.${CLUSTER_DOMAIN} ${CLUSTER_DOMAIN}\noptions ndots:5\n`;
}
