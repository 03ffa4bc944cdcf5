// networking.istio.io Gateway: the listeners (servers) of a gateway workload picked by its selector.
import type { KubeObject } from '../object.js';
import type { IssueList } from '../field-issue.js';
import { FIELD_TREES } from '../schema/field-trees.gen.js';
import { checkDns1123Label, checkIstioHost } from '../names.js';
import { checkIstioProtocol, checkLabels, checkPortNumber, requireList } from './common-rules.js';
import { arr, rec, str, type KindModule } from './kind-module.js';
import { ISTIO_NETWORKING_GROUP } from '../groups.js';

export type ServerTlsMode = 'PASSTHROUGH' | 'SIMPLE' | 'MUTUAL' | 'AUTO_PASSTHROUGH' | 'ISTIO_MUTUAL' | 'OPTIONAL_MUTUAL';

export interface GatewayPort {
  readonly number: number;
  readonly name: string;
  /** HTTP | HTTPS | GRPC | GRPC-WEB | HTTP2 | MONGO | TCP | TLS */
  readonly protocol: string;
  readonly targetPort?: number;
}

export interface ServerTlsSettings {
  readonly mode?: ServerTlsMode;
  readonly httpsRedirect?: boolean;
  readonly credentialName?: string;
  readonly credentialNames?: readonly string[];
  readonly serverCertificate?: string;
  readonly privateKey?: string;
  readonly caCertificates?: string;
  readonly subjectAltNames?: readonly string[];
  readonly minProtocolVersion?: string;
  readonly maxProtocolVersion?: string;
}

export interface Server {
  readonly port: GatewayPort;
  readonly hosts: readonly string[];
  readonly tls?: ServerTlsSettings;
  readonly bind?: string;
  readonly name?: string;
  readonly defaultEndpoint?: string;
}

export interface IstioGatewaySpec {
  readonly selector?: Readonly<Record<string, string>>;
  readonly servers?: readonly Server[];
}

export type IstioGateway = KubeObject<IstioGatewaySpec>;

/** A server host split into its namespace part (`*` when absent, `.` = the Gateway's own) and DNS name. */
export function splitServerHost(host: string): { namespace: string; dnsName: string } {
  const slash = host.indexOf('/');
  return slash < 0 ? { namespace: '*', dnsName: host } : { namespace: host.slice(0, slash), dnsName: host.slice(slash + 1) };
}

const TLS_PROTOCOLS = ['HTTPS', 'TLS'];

function validate(obj: KubeObject, out: IssueList): void {
  const spec = rec(obj.spec);
  checkLabels(spec['selector'], ['spec', 'selector'], out);
  if (!requireList(spec['servers'], ['spec', 'servers'], out, 'at least one server')) return;
  const portNames = new Map<string, number>();
  const serverNames = new Map<string, number>();
  arr(spec['servers']).forEach((s, i) => {
    const server = rec(s);
    const base = ['spec', 'servers', i];
    const port = server['port'];
    if (port === undefined || port === null) out.required([...base, 'port']);
    const p = rec(port);
    checkPortNumber(p['number'], [...base, 'port', 'number'], out);
    checkPortNumber(p['targetPort'], [...base, 'port', 'targetPort'], out);
    checkIstioProtocol(p['protocol'], [...base, 'port', 'protocol'], out);
    const pname = str(p['name']);
    if (pname !== undefined) {
      if (portNames.has(pname)) out.duplicate([...base, 'port', 'name'], pname, 'port names in servers must be unique');
      portNames.set(pname, i);
    }
    const sname = str(server['name']);
    if (sname !== undefined) {
      if (serverNames.has(sname)) out.duplicate([...base, 'name'], sname, 'server names must be unique');
      serverNames.set(sname, i);
    }
    if (requireList(server['hosts'], [...base, 'hosts'], out, 'at least one host')) {
      arr(server['hosts']).forEach((h, j) => {
        if (typeof h !== 'string') return;
        const { namespace, dnsName } = splitServerHost(h);
        if (h.includes('/')) {
          if (namespace !== '*' && namespace !== '.' && namespace !== '~' && checkDns1123Label(namespace)) {
            out.invalid([...base, 'hosts', j], h, 'namespace part must be "*", ".", "~" or a namespace name');
            return;
          }
        }
        const err = checkIstioHost(dnsName, { allowBareWildcard: true, allowIp: true });
        if (err) out.invalid([...base, 'hosts', j], h, err);
      });
    }
    const protocol = (str(p['protocol']) ?? '').toUpperCase();
    const tls = server['tls'];
    const tlsRec = rec(tls);
    if (TLS_PROTOCOLS.includes(protocol) && (tls === undefined || tls === null)) {
      out.required([...base, 'tls'], `server must have TLS settings for ${protocol} protocol`);
    }
    if (tls && !TLS_PROTOCOLS.includes(protocol) && protocol && !tlsRec['httpsRedirect']) {
      out.invalid([...base, 'tls'], 'tls', `TLS settings need protocol HTTPS or TLS, not ${protocol}`);
    }
    const mode = str(tlsRec['mode']) ?? 'PASSTHROUGH';
    if (protocol === 'HTTPS' && tls && (mode === 'PASSTHROUGH' || mode === 'AUTO_PASSTHROUGH')) {
      out.invalid([...base, 'tls', 'mode'], mode, `${mode} mode needs protocol TLS, not HTTPS`);
    }
    if (
      (mode === 'SIMPLE' || mode === 'MUTUAL' || mode === 'OPTIONAL_MUTUAL') &&
      tls &&
      !tlsRec['credentialName'] &&
      !tlsRec['credentialNames'] &&
      !tlsRec['serverCertificate']
    ) {
      out.required([...base, 'tls', 'credentialName'], `${mode} mode needs credentialName or serverCertificate and privateKey`);
    }
    if (mode === 'ISTIO_MUTUAL' && (tlsRec['credentialName'] || tlsRec['serverCertificate'] || tlsRec['privateKey'] || tlsRec['caCertificates'])) {
      out.forbidden(
        [...base, 'tls'],
        'ISTIO_MUTUAL mode uses the mesh certificates; credentialName, serverCertificate, privateKey and caCertificates must be empty',
      );
    }
  });
}

export const istioGatewayKind: KindModule = {
  group: ISTIO_NETWORKING_GROUP,
  kind: 'Gateway',
  fieldTree: FIELD_TREES['networking.istio.io/Gateway'],
  specRequired: true,
  validate,
};
