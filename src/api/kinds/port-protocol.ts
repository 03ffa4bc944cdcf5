// A port's protocol as Istio reads it: a declared `protocol` (ServiceEntry, Gateway), or a Kubernetes
// port's appProtocol and name (Services, container ports). One table for both.

export type Protocol = 'HTTP' | 'HTTP2' | 'GRPC' | 'GRPC-WEB' | 'HTTPS' | 'TLS' | 'TCP' | 'MONGO' | 'UDP';

const KNOWN: Readonly<Record<string, Protocol>> = {
  http: 'HTTP',
  http2: 'HTTP2',
  grpc: 'GRPC',
  'grpc-web': 'GRPC-WEB',
  https: 'HTTPS',
  tls: 'TLS',
  tcp: 'TCP',
  mongo: 'MONGO',
  udp: 'UDP',
  'kubernetes.io/h2c': 'HTTP2',
  'kubernetes.io/ws': 'HTTP',
  'kubernetes.io/wss': 'HTTPS',
};

/** Protocol from a declared protocol string (ServiceEntry/Gateway `protocol`), case-insensitive; TCP when unknown. */
export function parseProtocol(value: string | undefined): Protocol {
  return (value && KNOWN[value.toLowerCase()]) || 'TCP';
}

/**
 * A Kubernetes port's protocol as Istio selects it: appProtocol, then the port name's prefix
 * before `-` (`http-web` → HTTP), else TCP (Istio would sniff; we do not).
 */
export function kubePortProtocol(appProtocol: string | undefined, name: string | undefined): Protocol {
  if (appProtocol && KNOWN[appProtocol.toLowerCase()]) return KNOWN[appProtocol.toLowerCase()]!;
  if (name) {
    const lower = name.toLowerCase();
    if (KNOWN[lower]) return KNOWN[lower]!;
    const prefix = lower.split('-')[0]!;
    if (lower.startsWith('grpc-web')) return 'GRPC-WEB';
    if (KNOWN[prefix]) return KNOWN[prefix]!;
  }
  return 'TCP';
}
