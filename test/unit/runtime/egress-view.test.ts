// The egress view's pieces: Prometheus text, histogram quantiles, access-log lines and what counts
// as a problem, and the view built from proxies' metrics and the store's objects.
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { histogramQuantile, parsePrometheus } from '../../../src/runtime/egress-view/prometheus.js';
import { LogTail, parseAccessLogLine, problemOf } from '../../../src/runtime/egress-view/access-log.js';
import { buildView, type ProxyInput } from '../../../src/runtime/egress-view/view.js';
import type { KubeObject } from '../../../src/api/object.js';

const SIDECAR_LINE =
  '[2026-12-02T10:47:35.521Z] "GET /get HTTP/1.1" 200 - via_upstream - "-" 0 313 14 12 "-" "curl/7.88.1" "f9617c3f" "httpbin.org" "127.11.157.4:80" outbound|80|httpbin|egressgw.gw-ns.svc.cluster.local 127.11.157.3:39509 127.11.157.3:15001 127.0.0.1:52128 - -';
const BLOCKED_LINE =
  '[2026-12-02T10:50:00.000Z] "GET / HTTP/1.1" 502 - direct_response - "-" 0 0 0 - "-" "curl/7.88.1" "abc" "unlisted.example.com" "-" - - 127.11.157.3:15001 127.0.0.1:52128 - block_all';

test('Prometheus text: labels with escapes, +Inf, other metrics skipped', () => {
  const text = [
    '# TYPE istio_requests_total counter',
    'istio_requests_total{reporter="source",destination_service="a\\"b.example.com",response_code="200"} 7',
    'istio_request_duration_milliseconds_bucket{le="+Inf"} 3',
    'istio_build{component="proxy"} 1',
  ].join('\n');
  const s = parsePrometheus(text, (n) => n !== 'istio_build');
  assert.equal(s.length, 2);
  assert.deepEqual(s[0], {
    name: 'istio_requests_total',
    labels: { reporter: 'source', destination_service: 'a"b.example.com', response_code: '200' },
    value: 7,
  });
  assert.equal(s[1]!.labels['le'], '+Inf');
});

test('histogram quantiles interpolate inside the bucket, as histogram_quantile does', () => {
  // 10 observations: 4 in (0,5], 4 in (5,10], 2 in (10,25].
  const b = new Map([
    [5, 4],
    [10, 8],
    [25, 10],
    [Infinity, 10],
  ]);
  assert.equal(histogramQuantile(0.5, b), 6.25);
  assert.equal(histogramQuantile(0.99, b), 10 + 15 * ((9.9 - 8) / 2));
  assert.equal(histogramQuantile(0.5, new Map()), undefined);
  assert.equal(
    histogramQuantile(
      0.99,
      new Map([
        [5, 1],
        [Infinity, 10],
      ]),
    ),
    5,
    'a rank in +Inf gives the highest finite bound',
  );
});

test('access-log lines: fields read back, problems classified', () => {
  const ok = parseAccessLogLine(SIDECAR_LINE)!;
  assert.equal(ok.authority, 'httpbin.org');
  assert.equal(ok.cluster, 'outbound|80|httpbin|egressgw.gw-ns.svc.cluster.local');
  assert.equal(ok.code, 200);
  assert.equal(problemOf(ok), undefined);
  const blocked = parseAccessLogLine(BLOCKED_LINE)!;
  assert.equal(blocked.route, 'block_all');
  assert.equal(problemOf(blocked), 'blocked');
  assert.equal(problemOf({ ...ok, code: 403, details: 'rbac_access_denied_matched_policy[none]' }), 'denied');
  assert.equal(problemOf({ ...ok, code: 504, flags: 'UT' }), 'failed');
  assert.equal(problemOf({ ...ok, cluster: 'BlackHoleCluster', code: 0 }), 'blocked');
  assert.equal(parseAccessLogLine('2026-12-02 info: admin endpoint on 127.0.0.1:15000'), undefined);
});

test('the view: sidecar → gateway (through its Service) → host, with counts, latency, rates and what carries the host', () => {
  const objects: KubeObject[] = [
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'egressgw', namespace: 'gw-ns' }, spec: { selector: { istio: 'egressgw' } } },
    { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'curl', namespace: 'curl' }, spec: {} },
    {
      apiVersion: 'networking.istio.io/v1',
      kind: 'ServiceEntry',
      metadata: { name: 'egress-se', namespace: 'curl' },
      spec: { hosts: ['httpbin.org'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }] },
    },
    {
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'egress-vs', namespace: 'curl' },
      spec: { hosts: ['httpbin.org'], gateways: ['mesh', 'gw-ns/egress-gw'] },
    },
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'r', namespace: 'curl' },
      spec: { parentRefs: [{ kind: 'ServiceEntry', group: 'networking.istio.io', name: 'egress-se' }] },
      status: { parents: [{ parentRef: { kind: 'ServiceEntry', name: 'egress-se' }, conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted' }] }] },
    },
  ];
  const lbl = (dest: string, code: string) => ({
    reporter: 'source',
    destination_service: dest,
    destination_service_name: dest.split('.')[0]!,
    destination_service_namespace: 'x',
    response_code: code,
  });
  const sidecar = (n: number): ProxyInput => ({
    id: 'sidecar.curl',
    role: 'sidecar',
    namespace: 'curl',
    workload: 'sidecar',
    labels: {},
    ready: true,
    state: 'ready',
    samples: [
      { name: 'istio_requests_total', labels: lbl('egressgw.gw-ns.svc.cluster.local', '200'), value: n },
      { name: 'istio_requests_total', labels: lbl('egressgw.gw-ns.svc.cluster.local', '503'), value: 1 },
      { name: 'istio_requests_total', labels: { ...lbl('unknown', '502'), destination_service_name: 'BlackHoleCluster' }, value: 2 },
    ],
  });
  const gateway: ProxyInput = {
    id: 'egressgw-1.gw-ns',
    role: 'router',
    namespace: 'gw-ns',
    workload: 'egressgw',
    labels: { istio: 'egressgw' },
    ready: true,
    state: 'ready',
    samples: [
      { name: 'istio_requests_total', labels: lbl('httpbin.org', '200'), value: 4 },
      { name: 'istio_request_duration_milliseconds_bucket', labels: { ...lbl('httpbin.org', '200'), le: '10' }, value: 2 },
      { name: 'istio_request_duration_milliseconds_bucket', labels: { ...lbl('httpbin.org', '200'), le: '+Inf' }, value: 4 },
    ],
  };
  const status = [
    { id: 'sidecar.curl', role: 'sidecar', namespace: 'curl', workload: 'sidecar', sentVersion: 'v2', ackedVersion: 'v1', connectedAt: '', synced: false },
  ];
  const first = buildView({
    now: 1000,
    revision: '5',
    proxies: [sidecar(3), gateway],
    status,
    objects,
    findings: [{ code: 'IST0101', level: 'Error', message: 'x', resource: { kind: 'VirtualService', namespace: 'curl', name: 'egress-vs' } }],
    recent: [],
  });
  const { view } = buildView({ now: 3000, revision: '5', proxies: [sidecar(7), gateway], status, objects, findings: [], recent: [] }, first.rates);
  const edge = (id: string) => view.edges.find((e) => e.id === id)!;
  const toGw = edge('px:curl/sidecar->px:gw-ns/egressgw');
  assert.equal(toGw.requests, 8);
  assert.equal(toGw.errors, 1);
  assert.equal(toGw.rate, 2, '4 more requests in 2 s');
  assert.equal(edge('px:curl/sidecar->blackhole').denials, 2);
  const toHost = edge('px:gw-ns/egressgw->host:httpbin.org');
  assert.equal(toHost.requests, 4);
  assert.equal(toHost.p50Ms, 10);
  assert.ok(view.edges.some((e) => e.id === 'wl:curl/curl->px:curl/sidecar'));
  const host = view.hosts.find((h) => h.host === 'httpbin.org')!;
  assert.deepEqual(
    [host.serviceEntries, host.routes, host.gateways, host.ports],
    [['curl/egress-se'], ['HTTPRoute curl/r', 'VirtualService curl/egress-vs'], ['Gateway gw-ns/egress-gw'], ['80/HTTP']],
  );
  assert.equal(view.proxies.find((p) => p.id === 'sidecar.curl')!.sync, 'STALE');
  assert.equal(view.proxies.find((p) => p.id === 'egressgw-1.gw-ns')!.sync, 'NOT SENT');
  const route = view.objects.find((o) => o.kind === 'HTTPRoute')!;
  assert.deepEqual(route.conditions, [{ scope: 'parent ServiceEntry curl/egress-se', type: 'Accepted', status: 'True', reason: 'Accepted' }]);
  assert.deepEqual(first.view.objects.find((o) => o.kind === 'VirtualService')!.findings, [{ code: 'IST0101', level: 'Error', message: 'x' }]);
});

test('log tail: only appended whole lines, and from the start again after a rotation', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-tail-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'w.log');
  const tail = new LogTail(file);
  assert.deepEqual(tail.read(), [], 'no file yet');
  writeFileSync(file, 'one\ntwo\nthr');
  assert.deepEqual(tail.read(), ['one', 'two']);
  appendFileSync(file, 'ee\nfour\n');
  assert.deepEqual(tail.read(), ['three', 'four']);
  assert.deepEqual(tail.read(), []);
  writeFileSync(file, 'five\n');
  assert.deepEqual(tail.read(), ['five'], 'a truncated (rotated) file is read from its start');
});
