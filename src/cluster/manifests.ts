// What `outpost install` puts on a cluster, as objects a user can review (`--dry-run` prints them):
// the CRDs, the controller's namespace, ServiceAccount, least-privilege RBAC, Deployment and
// Service, the injection webhook's TLS Secret and MutatingWebhookConfiguration.
import { KINDS } from '../api/kinds.js';
import type { KubeObject } from '../api/object.js';
import type { ServingCert } from '../apiserver/serving-cert.js';
import { CONTROLLER_KINDS } from './controller-kinds.js';
import { crdKinds, customResourceDefinition } from './crds.js';
import { INJECT_PATH } from './injection-webhook.js';

export interface InstallOptions {
  readonly image: string;
  /** Where the controller runs (Istio's control-plane namespace). */
  readonly namespace: string;
  /** The webhook's serving certificate (its own CA: it is the caBundle). */
  readonly webhookCert: ServingCert;
  readonly replicas?: number;
}

export const CONTROLLER_NAME = 'outpost-controller';
const PART_OF = { 'app.kubernetes.io/part-of': 'outpost' };
const DISTRIBUTION_PORT = 15012;
const WEBHOOK_PORT = 15017;

function plural(group: string, kind: string): string {
  const info = KINDS.find((k) => k.group === group && k.kind === kind);
  if (!info) throw new Error(`unknown kind ${kind}.${group}`);
  return info.plural;
}

/** Read everything the control plane reads; write only what it writes. */
function clusterRules(): unknown[] {
  const byGroup = new Map<string, string[]>();
  for (const k of CONTROLLER_KINDS) byGroup.set(k.group, [...(byGroup.get(k.group) ?? []), plural(k.group, k.kind)]);
  const read = [...byGroup].map(([group, resources]) => ({ apiGroups: [group], resources, verbs: ['get', 'list', 'watch'] }));
  const statusOf = CONTROLLER_KINDS.filter((k) => k.group !== '' && k.group !== 'apps');
  const statusByGroup = new Map<string, string[]>();
  for (const k of statusOf) statusByGroup.set(k.group, [...(statusByGroup.get(k.group) ?? []), `${plural(k.group, k.kind)}/status`]);
  return [
    ...read,
    // The Gateway API deployer's objects.
    { apiGroups: ['apps'], resources: ['deployments'], verbs: ['create', 'update', 'delete'] },
    { apiGroups: [''], resources: ['services', 'serviceaccounts'], verbs: ['create', 'update', 'delete'] },
    { apiGroups: [''], resources: ['events'], verbs: ['create'] },
    // The default GatewayClass and the IstioRevision the control plane keeps.
    { apiGroups: ['gateway.networking.k8s.io'], resources: ['gatewayclasses'], verbs: ['create', 'update'] },
    { apiGroups: ['sailoperator.io'], resources: ['istiorevisions'], verbs: ['create', 'update'] },
    ...[...statusByGroup].map(([group, resources]) => ({ apiGroups: [group], resources, verbs: ['patch', 'update'] })),
    // Proxies' tokens, checked as istiod checks them.
    { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
  ];
}

export function installObjects(opts: InstallOptions): KubeObject[] {
  const ns = opts.namespace;
  const labels = { app: CONTROLLER_NAME, ...PART_OF };
  const svcHost = `${CONTROLLER_NAME}.${ns}.svc`;
  const meta = (name: string, namespaced = true) => ({ name, ...(namespaced ? { namespace: ns } : {}), labels });
  const objects: KubeObject[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: PART_OF } },
    ...crdKinds().map(customResourceDefinition),
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(CONTROLLER_NAME) },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: meta(CONTROLLER_NAME, false), rules: clusterRules() } as unknown as KubeObject,
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: meta(CONTROLLER_NAME, false),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: CONTROLLER_NAME },
      subjects: [{ kind: 'ServiceAccount', name: CONTROLLER_NAME, namespace: ns }],
    } as unknown as KubeObject,
    // Leader election: the Lease in the controller's own namespace only.
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: meta(`${CONTROLLER_NAME}-leader-election`),
      rules: [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] }],
    } as unknown as KubeObject,
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: meta(`${CONTROLLER_NAME}-leader-election`),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${CONTROLLER_NAME}-leader-election` },
      subjects: [{ kind: 'ServiceAccount', name: CONTROLLER_NAME, namespace: ns }],
    } as unknown as KubeObject,
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: meta(`${CONTROLLER_NAME}-webhook-tls`),
      type: 'kubernetes.io/tls',
      data: { 'tls.crt': Buffer.from(opts.webhookCert.certPem).toString('base64'), 'tls.key': Buffer.from(opts.webhookCert.keyPem).toString('base64') },
    } as unknown as KubeObject,
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta(CONTROLLER_NAME),
      spec: {
        replicas: opts.replicas ?? 2,
        selector: { matchLabels: { app: CONTROLLER_NAME } },
        template: {
          metadata: { labels, annotations: { 'sidecar.istio.io/inject': 'false' } },
          spec: {
            serviceAccountName: CONTROLLER_NAME,
            containers: [
              {
                name: 'controller',
                image: opts.image,
                args: [
                  'controller',
                  '--distribution-address',
                  `0.0.0.0:${DISTRIBUTION_PORT}`,
                  '--leader-elect-namespace',
                  ns,
                  '--webhook-address',
                  `0.0.0.0:${WEBHOOK_PORT}`,
                  '--webhook-cert-dir',
                  '/etc/outpost/webhook',
                  // The same certificate (it names the Service) serves distribution over TLS.
                  '--distribution-cert-dir',
                  '/etc/outpost/webhook',
                  '--proxy-image',
                  opts.image,
                  '--controller-url',
                  `https://${svcHost}:${DISTRIBUTION_PORT}`,
                ],
                env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
                ports: [
                  { name: 'https-xds', containerPort: DISTRIBUTION_PORT, protocol: 'TCP' },
                  { name: 'https-webhook', containerPort: WEBHOOK_PORT, protocol: 'TCP' },
                ],
                volumeMounts: [{ name: 'webhook-tls', mountPath: '/etc/outpost/webhook', readOnly: true }],
                securityContext: {
                  runAsNonRoot: true,
                  runAsUser: 1337,
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ['ALL'] },
                },
              },
            ],
            volumes: [{ name: 'webhook-tls', secret: { secretName: `${CONTROLLER_NAME}-webhook-tls`, defaultMode: 0o400 } }],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(CONTROLLER_NAME),
      spec: {
        selector: { app: CONTROLLER_NAME },
        ports: [
          { name: 'https-xds', port: DISTRIBUTION_PORT, targetPort: DISTRIBUTION_PORT },
          { name: 'https-webhook', port: 443, targetPort: WEBHOOK_PORT },
        ],
      },
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name: 'outpost-sidecar-injector', labels },
      webhooks: [
        webhook(
          'namespace.sidecar-injector.outpost.dev',
          { matchExpressions: [{ key: 'istio-injection', operator: 'In', values: ['enabled'] }] },
          { matchExpressions: [{ key: 'sidecar.istio.io/inject', operator: 'NotIn', values: ['false'] }] },
        ),
        webhook(
          'object.sidecar-injector.outpost.dev',
          { matchExpressions: [{ key: 'istio-injection', operator: 'DoesNotExist' }] },
          { matchExpressions: [{ key: 'sidecar.istio.io/inject', operator: 'In', values: ['true'] }] },
        ),
        webhook('gateway.sidecar-injector.outpost.dev', {}, { matchExpressions: [{ key: 'gateway.networking.k8s.io/gateway-name', operator: 'Exists' }] }),
      ],
    } as unknown as KubeObject,
  ];
  function webhook(name: string, namespaceSelector: unknown, objectSelector: unknown): unknown {
    return {
      name,
      admissionReviewVersions: ['v1'],
      sideEffects: 'None',
      // A controller that is down must not stop pods from starting; they start uninjected (and say so in their annotations).
      failurePolicy: 'Ignore',
      reinvocationPolicy: 'Never',
      clientConfig: {
        service: { name: CONTROLLER_NAME, namespace: ns, path: INJECT_PATH, port: 443 },
        caBundle: Buffer.from(opts.webhookCert.certPem).toString('base64'),
      },
      rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
      namespaceSelector,
      objectSelector,
    };
  }
  return objects;
}
