import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProxyMetrics, ENVOY_DEFAULT_BUCKETS, formatG } from '../../../src/dataplane/telemetry/metrics.js';
import type { Cluster, ProxyIdentity } from '../../../src/proxyconfig/types.js';

interface Sample {
  name: string;
  labels: Array<[string, string]>;
  value: number;
}

/** A strict Prometheus text parser: every non-comment line must be `name{k="v",…} number`. */
function parse(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  assert.ok(text.endsWith('\n'));
  for (const line of text.slice(0, -1).split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      types.set(name!, type!);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `bad line: ${line}`);
    const labels: Array<[string, string]> = [];
    const body = m[2] ?? '';
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/gy;
    let consumed = 0;
    for (let l = re.exec(body); l !== null; l = re.exec(body)) {
      labels.push([l[1]!, l[2]!.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c))]);
      consumed = re.lastIndex;
      if (consumed === body.length) break;
    }
    assert.equal(consumed, body.length, `bad labels: ${body}`);
    const value = Number(m[3]);
    assert.ok(!Number.isNaN(value), `bad value: ${line}`);
    samples.push({ name: m[1]!, labels, value });
  }
  return { samples, types };
}

const identity: ProxyIdentity = {
  id: 'sleep-1.default',
  role: 'sidecar',
  namespace: 'default',
  workload: 'sleep',
  labels: { app: 'sleep', version: 'v1' },
};

const cluster: Cluster = {
  name: 'outbound|80||docs.redhat.com',
  type: 'STRICT_DNS',
  endpoints: [{ address: 'docs.redhat.com', port: 80 }],
  lbPolicy: 'ROUND_ROBIN',
  connectTimeoutMs: 10_000,
  protocol: 'HTTP1',
  service: { host: 'docs.redhat.com', name: 'docs.redhat.com', namespace: 'default' },
};

const HTTP_LABELS = [
  'reporter',
  'source_workload',
  'source_workload_namespace',
  'source_principal',
  'source_app',
  'source_version',
  'source_canonical_service',
  'source_canonical_revision',
  'source_cluster',
  'destination_workload',
  'destination_workload_namespace',
  'destination_principal',
  'destination_app',
  'destination_version',
  'destination_service',
  'destination_service_name',
  'destination_service_namespace',
  'destination_canonical_service',
  'destination_canonical_revision',
  'destination_cluster',
  'request_protocol',
  'response_flags',
  'connection_security_policy',
  'response_code',
  'grpc_response_status',
];

test('istio_build is always there', () => {
  const m = new ProxyMetrics(identity, { tag: '1.2.3' });
  const { samples, types } = parse(m.render());
  assert.equal(types.get('istio_build'), 'gauge');
  assert.deepEqual(samples, [
    {
      name: 'istio_build',
      labels: [
        ['component', 'proxy'],
        ['tag', '1.2.3'],
      ],
      value: 1,
    },
  ]);
});

test('HTTP requests: Istio names, label order, values and Envoy buckets', () => {
  const m = new ProxyMetrics(identity);
  m.recordRequest({
    cluster,
    clusterName: cluster.name,
    protocol: 'http',
    responseCode: 200,
    responseFlags: '-',
    durationMs: 3,
    requestBytes: 0,
    responseBytes: 1200,
  });
  m.recordRequest({
    cluster,
    clusterName: cluster.name,
    protocol: 'http',
    responseCode: 200,
    responseFlags: '-',
    durationMs: 700,
    requestBytes: 10,
    responseBytes: 5,
  });
  m.recordRequest({
    cluster,
    clusterName: cluster.name,
    protocol: 'http',
    responseCode: 503,
    responseFlags: 'UF,URX',
    durationMs: 1,
    requestBytes: 0,
    responseBytes: 91,
  });
  const { samples, types } = parse(m.render());
  assert.equal(types.get('istio_requests_total'), 'counter');
  for (const h of ['istio_request_duration_milliseconds', 'istio_request_bytes', 'istio_response_bytes']) assert.equal(types.get(h), 'histogram');

  const totals = samples.filter((s) => s.name === 'istio_requests_total');
  assert.equal(totals.length, 2);
  for (const s of totals)
    assert.deepEqual(
      s.labels.map(([k]) => k),
      HTTP_LABELS,
    );
  const ok = totals.find((s) => s.labels.some(([k, v]) => k === 'response_code' && v === '200'))!;
  assert.equal(ok.value, 2);
  const l = Object.fromEntries(ok.labels);
  assert.equal(l.reporter, 'source');
  assert.equal(l.source_workload, 'sleep');
  assert.equal(l.source_workload_namespace, 'default');
  assert.equal(l.source_app, 'sleep');
  assert.equal(l.source_version, 'v1');
  assert.equal(l.source_canonical_service, 'sleep');
  assert.equal(l.destination_service, 'docs.redhat.com');
  assert.equal(l.destination_service_name, 'docs.redhat.com');
  assert.equal(l.destination_service_namespace, 'default');
  assert.equal(l.request_protocol, 'http');
  assert.equal(l.response_flags, '-');
  assert.equal(l.connection_security_policy, 'unknown');
  assert.equal(l.grpc_response_status, '');
  const failed = totals.find((s) => s !== ok)!;
  assert.equal(Object.fromEntries(failed.labels).response_flags, 'UF,URX');

  const buckets = samples.filter((s) => s.name === 'istio_request_duration_milliseconds_bucket' && Object.fromEntries(s.labels).response_code === '200');
  assert.deepEqual(
    buckets.map((s) => s.labels.at(-1)![1]),
    [...ENVOY_DEFAULT_BUCKETS.map(formatG), '+Inf'],
  );
  assert.deepEqual(buckets.map((s) => s.labels.at(-1)![1]).slice(-3), ['1.8e+06', '3.6e+06', '+Inf']);
  // 3 ms lands in le=5 and above, 700 ms in le=1000 and above; cumulative.
  const at = (le: string): number => buckets.find((s) => s.labels.at(-1)![1] === le)!.value;
  assert.equal(at('1'), 0);
  assert.equal(at('5'), 1);
  assert.equal(at('500'), 1);
  assert.equal(at('1000'), 2);
  assert.equal(at('+Inf'), 2);
  const sum = samples.find((s) => s.name === 'istio_request_duration_milliseconds_sum' && Object.fromEntries(s.labels).response_code === '200')!;
  assert.equal(sum.value, 703);
  const count = samples.find((s) => s.name === 'istio_response_bytes_count' && Object.fromEntries(s.labels).response_code === '200')!;
  assert.equal(count.value, 2);
});

test('canonical service falls back from the label to app to workload', () => {
  const m = new ProxyMetrics({ ...identity, labels: { 'service.istio.io/canonical-name': 'canon' } });
  m.recordRequest({
    cluster,
    clusterName: cluster.name,
    protocol: 'grpc',
    responseCode: 200,
    responseFlags: '-',
    durationMs: 1,
    requestBytes: 1,
    responseBytes: 1,
    grpcStatus: '0',
  });
  const s = parse(m.render()).samples.find((x) => x.name === 'istio_requests_total')!;
  const l = Object.fromEntries(s.labels);
  assert.equal(l.source_canonical_service, 'canon');
  assert.equal(l.source_app, 'unknown');
  assert.equal(l.request_protocol, 'grpc');
  assert.equal(l.grpc_response_status, '0');
  const m2 = new ProxyMetrics({ ...identity, labels: {} });
  m2.recordRequest({
    cluster,
    clusterName: cluster.name,
    protocol: 'http',
    responseCode: 200,
    responseFlags: '-',
    durationMs: 1,
    requestBytes: 1,
    responseBytes: 1,
  });
  assert.equal(Object.fromEntries(parse(m2.render()).samples.find((x) => x.name === 'istio_requests_total')!.labels).source_canonical_service, 'sleep');
});

test('BlackHole and Passthrough traffic is counted, with the cluster as destination_service_name', () => {
  const m = new ProxyMetrics(identity);
  m.recordRequest({
    cluster: undefined,
    clusterName: 'BlackHoleCluster',
    protocol: 'http',
    responseCode: 502,
    responseFlags: '-',
    durationMs: 0,
    requestBytes: 0,
    responseBytes: 0,
  });
  m.tcpOpened(undefined, 'PassthroughCluster');
  m.tcpClosed(undefined, 'PassthroughCluster', 100, 42, '-');
  const { samples } = parse(m.render());
  const req = Object.fromEntries(samples.find((s) => s.name === 'istio_requests_total')!.labels);
  assert.equal(req.destination_service_name, 'BlackHoleCluster');
  assert.equal(req.destination_service, 'unknown');
  assert.equal(req.response_code, '502');
  const sent = samples.find((s) => s.name === 'istio_tcp_sent_bytes_total')!;
  assert.equal(sent.value, 100);
  assert.equal(Object.fromEntries(sent.labels).destination_service_name, 'PassthroughCluster');
  assert.equal(samples.find((s) => s.name === 'istio_tcp_received_bytes_total')!.value, 42);
  assert.equal(samples.find((s) => s.name === 'istio_tcp_connections_opened_total')!.value, 1);
  assert.equal(samples.find((s) => s.name === 'istio_tcp_connections_closed_total')!.value, 1);
});

test('TCP metrics carry request_protocol tcp and no response_code', () => {
  const m = new ProxyMetrics(identity);
  m.tcpOpened(cluster, cluster.name);
  m.tcpOpened(cluster, cluster.name);
  m.tcpClosed(cluster, cluster.name, 1, 2, '-');
  m.tcpClosed(cluster, cluster.name, 0, 0, 'UF');
  const { samples, types } = parse(m.render());
  assert.equal(types.get('istio_tcp_connections_opened_total'), 'counter');
  const opened = samples.filter((s) => s.name === 'istio_tcp_connections_opened_total');
  assert.equal(opened.length, 1);
  assert.equal(opened[0]!.value, 2);
  const closed = samples.filter((s) => s.name === 'istio_tcp_connections_closed_total');
  assert.deepEqual(
    closed.map((s) => [Object.fromEntries(s.labels).response_flags, s.value]),
    [
      ['-', 1],
      ['UF', 1],
    ],
  );
  const keys = opened[0]!.labels.map(([k]) => k);
  assert.ok(!keys.includes('response_code'));
  assert.equal(Object.fromEntries(opened[0]!.labels).request_protocol, 'tcp');
});

test('label values are escaped', () => {
  const m = new ProxyMetrics({ ...identity, workload: 'we"ird\\name' });
  m.tcpOpened(undefined, 'outbound|1||x');
  const s = parse(m.render()).samples.find((x) => x.name === 'istio_tcp_connections_opened_total')!;
  assert.equal(Object.fromEntries(s.labels).source_workload, 'we"ird\\name');
  assert.equal(Object.fromEntries(s.labels).destination_service, 'x');
});

test('mTLS requests: one series per peer identity, apart from plain-text ones of the same cluster and code', () => {
  const m = new ProxyMetrics(identity, { tag: '1.2.3' });
  const sleep = 'spiffe://cluster.local/ns/default/sa/sleep';
  const other = 'spiffe://cluster.local/ns/other/sa/client';
  // Strings made per request, as the codec makes them: the series are found by value.
  for (const peer of [sleep, `${sleep}`, other, undefined, `spiffe://cluster.local/ns/default/sa/${'sleep'}`]) {
    m.recordRequest({
      cluster,
      clusterName: cluster.name,
      protocol: 'http',
      responseCode: 200,
      responseFlags: '-',
      durationMs: 1,
      requestBytes: 0,
      responseBytes: 1,
      peerUriSan: peer,
    });
  }
  const counts = parse(m.render())
    .samples.filter((s) => s.name === 'istio_requests_total')
    .map((s) => {
      const l = new Map(s.labels);
      return `${l.get('source_principal')} ${l.get('connection_security_policy')} ${s.value}`;
    })
    .sort();
  assert.deepEqual(counts, [`${sleep} mutual_tls 3`, `${other} mutual_tls 1`, 'unknown unknown 1']);
});
