// What the node serves to pods, as pods NetworkPolicy peers can name: on a cluster these are
// CoreDNS (kube-system, k8s-app=kube-dns) and istiod (istio-system, app=istiod); here the node's
// bridge address serves them, so a policy allowing "DNS" or "istio-system" opens just their ports.
import type { PolicyPod } from './compile.js';

export function nodeHostedPeers(nodeAddress: string, distributionPort: number, istioNamespace = 'istio-system'): PolicyPod[] {
  return [
    {
      namespace: 'kube-system',
      name: 'kube-dns',
      labels: { 'k8s-app': 'kube-dns' },
      ip: nodeAddress,
      ports: [
        { name: 'dns', port: 53, protocol: 'UDP' },
        { name: 'dns-tcp', port: 53, protocol: 'TCP' },
      ],
      onNode: true,
    },
    {
      namespace: istioNamespace,
      name: 'istiod',
      labels: { app: 'istiod', istio: 'pilot' },
      ip: nodeAddress,
      ports: [{ name: 'grpc-xds', port: distributionPort, protocol: 'TCP' }],
      onNode: true,
    },
  ];
}
