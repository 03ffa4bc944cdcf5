// A synthetic egress view as big as the dashboard must handle, built by the real aggregator from
// synthetic proxy metrics and store objects.
import type { KubeObject } from '../../src/api/object.js';
import type { Sample } from '../../src/runtime/egress-view/prometheus.js';
import { buildView, type EgressView, type ProxyInput } from '../../src/runtime/egress-view/view.js';

/** A view built by the real aggregator from synthetic metrics: `workloads` sidecars in 10 namespaces, 2 gateways, `hosts` external hosts. */
export function syntheticView(workloads: number, hosts: number): EgressView {
  const sample = (labels: Record<string, string>, name: string, value: number): Sample => ({ name, labels, value });
  const series = (dest: string, code: string, n: number): Sample[] => {
    const l = {
      reporter: 'source',
      destination_service: dest,
      destination_service_name: dest.split('.')[0]!,
      destination_service_namespace: 'unknown',
      response_code: code,
    };
    return [
      sample(l, 'istio_requests_total', n),
      ...[1, 5, 25, 100, 250].map((le, i) => sample({ ...l, le: String(le) }, 'istio_request_duration_milliseconds_bucket', Math.round((n * (i + 1)) / 5))),
      sample({ ...l, le: '+Inf' }, 'istio_request_duration_milliseconds_bucket', n),
    ];
  };
  const objects: KubeObject[] = [];
  const proxies: ProxyInput[] = [];
  for (let g = 0; g < 2; g++) {
    objects.push({ apiVersion: 'v1', kind: 'Service', metadata: { name: `egress-${g}`, namespace: 'gw' }, spec: { selector: { istio: `egress-${g}` } } });
    const samples: Sample[] = [];
    for (let h = g; h < hosts; h += 2) samples.push(...series(`host-${h}.example.com`, h % 17 === 0 ? '503' : '200', 10 + (h % 50)));
    proxies.push({
      id: `egress-${g}-abc.gw`,
      role: 'router',
      namespace: 'gw',
      workload: `egress-${g}`,
      labels: { istio: `egress-${g}` },
      ready: true,
      state: 'ready',
      samples,
    });
  }
  for (let w = 0; w < workloads; w++) {
    const ns = `team-${w % 10}`;
    objects.push({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: `app-${w}`, namespace: ns }, spec: {} });
    proxies.push({
      id: `app-${w}-xyz.${ns}`,
      role: 'sidecar',
      namespace: ns,
      workload: `app-${w}`,
      labels: { app: `app-${w}` },
      ready: true,
      state: 'ready',
      samples: [...series(`egress-${w % 2}.gw.svc.cluster.local`, '200', 40), ...series(`host-${w}.example.com`, '200', 5)],
    });
  }
  for (let h = 0; h < hosts; h++) {
    objects.push({
      apiVersion: 'networking.istio.io/v1',
      kind: 'ServiceEntry',
      metadata: { name: `se-${h}`, namespace: 'gw' },
      spec: { hosts: [`host-${h}.example.com`], ports: [{ number: 443, name: 'tls', protocol: 'TLS' }] },
    });
  }
  return buildView({ now: Date.now(), revision: '1', proxies, status: [], objects, findings: [], recent: [] }).view;
}
