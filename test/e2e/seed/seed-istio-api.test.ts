// The seed chapter §3.2, command for command: Istio APIs route curl's traffic through an egress
// gateway installed by gateway injection; the gateway's access log shows the request.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DOCS_HOST, startExternalServices } from '../../helpers/external.js';
import { eventually, startTestMesh } from '../../helpers/mesh.js';

const SEED = fileURLToPath(new URL('../../fixtures/seed/', import.meta.url));
const seed = (name: string): string => join(SEED, name);

/** Istio's default TEXT access-log line, field by field (reference/istio-egress.md §3.1). */
const ACCESS_LINE =
  /^\[(\S+Z)\] "(\S+) (\S+) (\S+)" (\d+) (\S+) (\S+) (\S+) "([^"]*)" (\d+) (\d+) (\d+) (\S+) "([^"]*)" "([^"]*)" "([^"]*)" "([^"]*)" "([^"]*)" (\S+) (\S+) (\S+) (\S+) (\S+) (\S+)$/;

test('seed §3.2: egress through a gateway-injected gateway with Istio APIs', async (t) => {
  const ext = await startExternalServices();
  t.after(() => ext.close());
  const mesh = await startTestMesh(t, { hostsFile: ext.hostsFile });

  // Access logs on, as the chapter's note asks (spec.values.meshConfig.accessLogFile).
  const istio = seed('istio.yaml');
  assert.match((await mesh.ok(['apply', '-f', istio])).stdout, /^istio\.sailoperator\.io\/default (configured|unchanged)$/m);

  // Prerequisite: a gateway installed through gateway injection.
  await mesh.ok(['create', 'namespace', 'gw-ns']);
  const gwApply = await mesh.ok(['apply', '-f', seed('egressgw.yaml')]);
  assert.match(gwApply.stdout, /^deployment\.apps\/egressgw created$/m);

  // $ oc create namespace curl
  assert.equal((await mesh.ok(['create', 'namespace', 'curl'])).stdout, 'namespace/curl created\n');
  // $ oc label namespace curl istio-injection=enabled
  assert.equal((await mesh.ok(['label', 'namespace', 'curl', 'istio-injection=enabled'])).stdout, 'namespace/curl labeled\n');
  // $ oc get istiorevisions.sailoperator.io
  // The revision's status follows the label a moment later (the seed's output was taken minutes
  // after): ask again until IN USE says True, as a user would.
  const revs = await eventually('the IstioRevision is in use', async () => {
    const r = await mesh.ok(['get', 'istiorevisions.sailoperator.io']);
    return r.stdout
      .trimEnd()
      .split('\n')[1]
      ?.split(/\s{2,}/)[4] === 'True'
      ? r
      : undefined;
  });
  const [header, row] = revs.stdout.trimEnd().split('\n');
  assert.deepEqual(header!.split(/\s{2,}/), ['NAME', 'TYPE', 'READY', 'STATUS', 'IN USE', 'VERSION', 'AGE']);
  assert.deepEqual(row!.split(/\s{2,}/).slice(0, 6), ['default', 'Local', 'True', 'Healthy', 'True', 'v1.24.3']);
  // $ oc label namespace curl istio.io/rev=default
  assert.equal((await mesh.ok(['label', 'namespace', 'curl', 'istio.io/rev=default'])).stdout, 'namespace/curl labeled\n');

  // $ oc apply -n curl -f curl.yaml
  const curlApply = await mesh.ok(['apply', '-n', 'curl', '-f', seed('curl.yaml')]);
  assert.match(curlApply.stdout, /^deployment\.apps\/curl created$/m);
  // $ export CURL_POD=$(oc get pod -n curl -l app=curl -o jsonpath='{.items[0].metadata.name}')
  const curlPod = await eventually('the curl pod', async () => {
    const r = await mesh.ok(['get', 'pod', '-n', 'curl', '-l', 'app=curl', '-o', 'jsonpath={.items[0].metadata.name}']);
    return r.stdout ? r.stdout : undefined;
  });
  assert.match(curlPod, /^curl-[a-z0-9]+-[a-z0-9]+$/);

  // $ oc apply -f http-se.yaml
  assert.match((await mesh.ok(['apply', '-f', seed('http-se.yaml')])).stdout, /^serviceentry\.networking\.istio\.io\/egress-se created$/m);
  // $ oc exec "$CURL_POD" -n curl -c curl -- curl -sSL -o /dev/null -D - http://docs.redhat.com
  const first = await mesh.ok(['exec', curlPod, '-n', 'curl', '-c', 'curl', '--', 'curl', '-sSL', '-o', '/dev/null', '-D', '-', `http://${DOCS_HOST}`]);
  assert.match(first.stdout, /^HTTP\/1\.1 301 Moved Permanently\r?$/m);
  assert.match(first.stdout, /^HTTP\/1\.1 200 OK\r?$/m);
  assert.equal(ext.seen[DOCS_HOST]!.length, 2, 'both requests reached docs.redhat.com');

  // $ oc apply -f http-gtw.yaml; oc apply -f http-vs.yaml
  const gtw = await mesh.ok(['apply', '-f', seed('http-gtw.yaml')]);
  assert.match(gtw.stdout, /^gateway\.networking\.istio\.io\/egress-gw created$/m);
  assert.match(gtw.stdout, /^destinationrule\.networking\.istio\.io\/egress-dr created$/m);
  assert.match((await mesh.ok(['apply', '-f', seed('http-vs.yaml')])).stdout, /^virtualservice\.networking\.istio\.io\/egress-vs created$/m);

  // Resend: 301 then 200, now through the gateway.
  const second = await mesh.ok(['exec', curlPod, '-n', 'curl', '-c', 'curl', '--', 'curl', '-sSL', '-o', '/dev/null', '-D', '-', `http://${DOCS_HOST}`]);
  assert.match(second.stdout, /^HTTP\/1\.1 301 Moved Permanently\r?$/m);
  assert.match(second.stdout, /^location: http:\/\/docs\.redhat\.com\/en\r?$/im);
  assert.match(second.stdout, /^HTTP\/1\.1 200 OK\r?$/m);

  // The gateway's own address, where its listener (the Service's targetPort 80) is bound.
  const gwIp = (await mesh.ok(['get', 'pod', '-n', 'gw-ns', '-l', 'istio=egressgw', '-o', 'jsonpath={.items[0].status.podIP}'])).stdout;
  assert.match(gwIp, /^127\.\d+\.\d+\.\d+$/);

  // The sidecar's log: the mesh hop to the gateway's subset cluster.
  const sidecarLog = await mesh.ok(['logs', `deployment/curl`, '-n', 'curl', '-c', 'istio-proxy']);
  assert.match(sidecarLog.stdout, /outbound\|80\|rh-docs\|egressgw\.gw-ns\.svc\.cluster\.local/);

  // One more request with a known request id, then: $ oc logs deployment/egressgw -n gw-ns | tail -1
  const requestId = '79551af2-341b-456d-b414-9220b487a03b';
  const third = await mesh.ok([
    'exec',
    '-n',
    'curl',
    '--',
    'curl',
    '-sS',
    '-o',
    '/dev/null',
    '-D',
    '-',
    '-H',
    `x-request-id: ${requestId}`,
    '-A',
    'curl/8.11.0',
    `http://${DOCS_HOST}`,
  ]);
  assert.match(third.stdout, /^HTTP\/1\.1 301/m);
  const last = (await mesh.ok(['logs', 'deployment/egressgw', '-n', 'gw-ns', '--tail', '1'])).stdout.trimEnd();
  const m = ACCESS_LINE.exec(last);
  assert.ok(m, `the gateway's last line is in Istio's default format:\n${last}`);
  const [, , method, path, protocol, status, , details, , , , , , , , userAgent, reqId, authority, upstreamHost, cluster, , downstreamLocal] = m;
  assert.equal(method, 'GET');
  assert.equal(path, '/');
  assert.match(protocol!, /^HTTP\/(1\.1|2)$/);
  assert.equal(status, '301');
  assert.equal(details, 'via_upstream');
  assert.equal(userAgent, 'curl/8.11.0');
  assert.equal(reqId, requestId);
  assert.equal(authority, DOCS_HOST);
  assert.equal(upstreamHost, `${ext.addresses[DOCS_HOST]}:80`);
  assert.equal(cluster, `outbound|80||${DOCS_HOST}`);

  // Deleting the VirtualService sends traffic direct again (sidecar → docs.redhat.com).
  assert.match((await mesh.ok(['delete', '-f', seed('http-vs.yaml')])).stdout, /^virtualservice\.networking\.istio\.io "egress-vs" deleted$/m);
  const direct = await mesh.ok(['exec', '-n', 'curl', '--', 'curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://${DOCS_HOST}`]);
  assert.equal(direct.stdout, '301');
  assert.equal((await mesh.ok(['logs', 'deployment/egressgw', '-n', 'gw-ns', '--tail', '1'])).stdout.trimEnd(), last, 'the gateway saw no new request');
  const sidecarLast = (await mesh.ok(['logs', 'deployment/curl', '-n', 'curl', '-c', 'istio-proxy', '--tail', '1'])).stdout;
  assert.match(sidecarLast, / outbound\|80\|\|docs\.redhat\.com /);

  // Last, as it depends on the gateway reporting its own listener address for HTTP/2 downstreams.
  assert.equal(downstreamLocal, `${gwIp}:80`, "DOWNSTREAM_LOCAL_ADDRESS is the gateway's listener");
});
