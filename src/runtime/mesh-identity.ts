// The local mesh's identity set-up at `up`: its CA (the state dir's root or a plug-in CA), the
// workload identities it issues, and the control plane's own certificate for mutual TLS on distribution.
import { join } from 'node:path';
import { MeshCa } from '../controlplane/ca/mesh-ca.js';
import type { DistributionTls } from '../controlplane/distribution/server.js';
import { trustDomainOf } from '../controlplane/mesh-settings.js';
import type { Store } from '../store/types.js';
import type { StatePaths } from './state-dir.js';
import { WorkloadIdentities } from './workload-identities.js';
import { SAIL_GROUP } from '../api/groups.js';

export interface MeshCaOptions {
  /** `--ca-cert`: signing certificate, intermediates, root. */
  readonly certFile?: string;
  /** `--ca-key`: the signing certificate's key. */
  readonly keyFile?: string;
  /** Workload certificate lifetime (`--workload-cert-ttl`), ms. */
  readonly ttlMs?: number;
}

export interface MeshIdentity {
  readonly identities: WorkloadIdentities;
  /** The trust domain now (the Istio resource can change it). */
  trustDomain(): string;
  /** Distribution's TLS settings; `onRotate` gets the control plane's next certificate. */
  distributionTls(onRotate: (cert: string, key: string) => void): DistributionTls;
}

export function identityRoot(paths: StatePaths): string {
  return join(paths.dir, 'identity');
}

export function startMeshIdentity(o: { paths: StatePaths; store: Store; ca?: MeshCaOptions; log: (line: string) => void }): MeshIdentity {
  const trustDomain = (): string => trustDomainOf(o.store.list({ group: SAIL_GROUP, kind: 'Istio' }).items);
  const ca = o.ca?.certFile && o.ca.keyFile ? MeshCa.plugIn(o.ca.certFile, o.ca.keyFile) : MeshCa.selfSigned(o.paths.dir, trustDomain());
  o.log(`identity: mesh CA is the ${ca.source}`);
  const identities = new WorkloadIdentities({ ca, dir: identityRoot(o.paths), ...(o.ca?.ttlMs !== undefined ? { ttlMs: o.ca.ttlMs } : {}), log: o.log });
  return {
    identities,
    trustDomain,
    distributionTls(onRotate) {
      const own = identities.ensure('istio-system/istiod', { namespace: 'istio-system', serviceAccount: 'istiod', trustDomain: trustDomain() }, (next) =>
        onRotate(next.certChainPem, next.keyPem),
      );
      return {
        cert: own.current.certChainPem,
        key: own.current.keyPem,
        ca: identities.rootCertPem,
        authorize: (peer, identity) => identities.authorizeSubscription(peer, identity),
      };
    },
  };
}
