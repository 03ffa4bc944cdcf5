// Core kinds accept their real Kubernetes fields (ConfigMap data, Event fields at the top level,
// Pod spec, Service/Namespace status …) and still reject typos, with the path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasErrors, validateObject } from '../../../src/api/validate.js';

const errorsOf = (obj: unknown): string[] =>
  validateObject(obj)
    .filter((i) => i.severity === 'error')
    .map((i) => `${i.path}: ${i.message}`);

test('ConfigMap: data, binaryData and immutable are its fields; bad keys and unknown fields are errors', () => {
  const cm = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'x', namespace: 'default' },
    data: { a: 'b', 'mesh.yaml': 'x: 1' },
    binaryData: { blob: 'AAEC' },
    immutable: false,
  };
  assert.deepEqual(errorsOf(cm), []);
  assert.deepEqual(
    errorsOf({ ...cm, data: { 'bad key': 'v' } }).map((e) => e.split(': ')[0]),
    ['data["bad key"]'],
  );
  assert.deepEqual(errorsOf({ ...cm, data: { a: 1 } }), ['data.a: invalid value 1: must be of type string, not integer']);
  assert.deepEqual(errorsOf({ ...cm, binaryData: { a: 'AA==' } }), ['binaryData.a: invalid value "a": duplicate of key present in data']);
  assert.deepEqual(errorsOf({ ...cm, dta: {} }), ['dta: unknown field "dta"']);
});

test('Event: the fields kubectl and the mesh write (involvedObject, reason, message, type, count, timestamps, source)', () => {
  const ev = {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: 'curl.17f', namespace: 'curl' },
    involvedObject: { apiVersion: 'v1', kind: 'Namespace', name: 'curl', namespace: 'curl', uid: 'u' },
    reason: 'UnknownRevision',
    message: 'no such revision',
    type: 'Warning',
    count: 2,
    firstTimestamp: '2025-01-01T00:00:00Z',
    lastTimestamp: '2025-01-01T00:00:01Z',
    eventTime: null,
    source: { component: 'outpost-injector', host: 'outpost' },
    reportingComponent: 'outpost',
    reportingInstance: 'outpost-1',
    action: 'Inject',
  };
  assert.deepEqual(errorsOf(ev), []);
  assert.deepEqual(errorsOf({ ...ev, involvedObject: undefined }), ['involvedObject: required value']);
  assert.deepEqual(errorsOf({ ...ev, involvedObject: { ...ev.involvedObject, namespace: 'other' } }), [
    'involvedObject.namespace: invalid value "other": does not match event.namespace',
  ]);
  assert.deepEqual(errorsOf({ ...ev, reasn: 'x' }), ['reasn: unknown field "reasn"']);
});

test('Pod, Service, Namespace, ServiceAccount and Deployment take their Kubernetes shapes, status included', () => {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'curl-1', namespace: 'curl', labels: { app: 'curl' } },
    spec: {
      containers: [{ name: 'curl', image: 'curlimages/curl', command: ['/bin/sleep', 'infinity'], volumeMounts: [{ name: 'v', mountPath: '/etc/x' }] }],
      nodeName: 'outpost',
      serviceAccountName: 'curl',
      volumes: [{ name: 'v', secret: { secretName: 's', optional: true } }],
    },
    status: { phase: 'Running', podIP: '127.0.0.5', conditions: [{ type: 'Ready', status: 'True' }] },
  };
  assert.deepEqual(errorsOf(pod), []);
  assert.deepEqual(errorsOf({ ...pod, spec: { ...pod.spec, containrs: [] } }), ['spec.containrs: unknown field "containrs"']);
  const svc = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'curl', namespace: 'curl' },
    spec: {
      type: 'ClusterIP',
      clusterIP: '10.0.0.1',
      ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }],
      selector: { app: 'curl' },
      sessionAffinity: 'None',
    },
    status: { loadBalancer: {} },
  };
  assert.deepEqual(errorsOf(svc), []);
  assert.deepEqual(
    errorsOf({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'curl', labels: { 'istio-injection': 'enabled' } },
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Active' },
    }),
    [],
  );
  assert.deepEqual(
    errorsOf({
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'curl', namespace: 'curl' },
      automountServiceAccountToken: false,
      secrets: [{ name: 's' }],
      imagePullSecrets: [{ name: 'p' }],
    }),
    [],
  );
  const deploy = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'curl', namespace: 'curl' },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'curl' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 1 } },
      template: {
        metadata: { labels: { app: 'curl' } },
        spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'curl', image: 'curlimages/curl', imagePullPolicy: 'IfNotPresent' }] },
      },
    },
    status: { replicas: 1, readyReplicas: 1, conditions: [{ type: 'Available', status: 'True' }] },
  };
  assert.deepEqual(errorsOf(deploy), []);
  assert.ok(hasErrors(validateObject({ ...deploy, spec: { ...deploy.spec, replics: 1 } })));
});
