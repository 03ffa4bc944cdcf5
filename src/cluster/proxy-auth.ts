// Who may subscribe to distribution on a cluster: a proxy presents its pod's service-account token
// (projected with the audience below); the API's TokenReview says whose it is; the proxy may then
// subscribe only as its own pod, with that pod's labels — so it gets its own config and nobody else's.
import type { KubeObject } from '../api/object.js';
import type { DistributionTokenAuth, TokenPrincipal } from '../controlplane/distribution/server.js';
import type { ProxyIdentity } from '../proxyconfig/types.js';
import type { Store } from '../store/types.js';
import type { KubeHttp } from './kube-http.js';

/** The audience proxies' projected tokens carry (the install manifests project them so). */
export const DISTRIBUTION_AUDIENCE = 'outpost';

interface TokenReviewStatus {
  authenticated?: boolean;
  user?: { username?: string; extra?: Record<string, string[]> };
  error?: string;
}

export function proxyTokenAuth(http: KubeHttp, store: Store): DistributionTokenAuth {
  return {
    authenticate: async (token) => {
      const review = await http.json<{ status?: TokenReviewStatus }>({
        method: 'POST',
        path: '/apis/authentication.k8s.io/v1/tokenreviews',
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [DISTRIBUTION_AUDIENCE] } },
      });
      const status = review.status ?? {};
      const m = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(status.user?.username ?? '');
      if (!status.authenticated || !m) return undefined;
      const podName = status.user?.extra?.['authentication.kubernetes.io/pod-name']?.[0];
      return { namespace: m[1]!, serviceAccount: m[2]!, ...(podName ? { podName } : {}) };
    },
    authorize: (principal, identity) => refusal(store, principal, identity),
  };
}

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

function refusal(store: Store, principal: TokenPrincipal, identity: ProxyIdentity): string | undefined {
  if (identity.namespace !== principal.namespace) return `the token is for namespace ${principal.namespace}, not ${identity.namespace}`;
  const podName = identity.id.endsWith(`.${identity.namespace}`) ? identity.id.slice(0, -identity.namespace.length - 1) : undefined;
  if (!podName) return `proxy id ${identity.id} is not <pod>.<namespace>`;
  if (principal.podName !== undefined && principal.podName !== podName) return `the token is bound to pod ${principal.podName}, not ${podName}`;
  const pod: KubeObject | undefined = store.get({ group: '', kind: 'Pod', namespace: identity.namespace, name: podName });
  if (!pod) return `no pod ${identity.namespace}/${podName}`;
  const sa = (pod.spec as { serviceAccountName?: string } | undefined)?.serviceAccountName ?? 'default';
  if (sa !== principal.serviceAccount) return `pod ${podName} runs as service account ${sa}, the token is ${principal.serviceAccount}'s`;
  if (!sameLabels(identity.labels, pod.metadata.labels ?? {})) return `the labels differ from pod ${podName}'s`;
  const podIP = (pod.status as { podIP?: string } | undefined)?.podIP;
  if (identity.ip && podIP && identity.ip !== podIP) return `address ${identity.ip} is not pod ${podName}'s (${podIP})`;
  return undefined;
}
