// `outpost controller`: the same control plane as the local mesh (the same translation, status
// and Gateway API deployer), reading and writing a Kubernetes API through client-node instead of
// the embedded store. It never opens a store of its own.
import { KubeConfig } from '@kubernetes/client-node';
import { ControlPlane } from '../controlplane/control-plane.js';
import { CONTROLLER_KINDS } from './controller-kinds.js';
import { ClusterStore } from './cluster-store.js';
import { KubeHttp } from './kube-http.js';
import { LeaderElector, type LeaderElectionSettings } from './leader-election.js';
import { proxyTokenAuth } from './proxy-auth.js';
import type { InjectionSettings } from './injection.js';
import { startInjectionWebhook, type InjectionWebhook } from './injection-webhook.js';

export interface ControllerOptions {
  /** A kubeconfig file; absent: in-cluster config when running in a pod, else $KUBECONFIG / ~/.kube/config. */
  readonly kubeconfig?: string;
  readonly context?: string;
  /** Where config distribution listens (default 0.0.0.0, an ephemeral port when 0). */
  readonly distributionHost?: string;
  readonly distributionPort?: number;
  /** The bearer token proxies and `proxy-status` present to distribution. */
  readonly distributionToken: string;
  readonly log: (line: string) => void;
  readonly watchTimeoutSeconds?: number;
  /** Elect one writer among replicas on a Lease (default on); off: this replica always writes. */
  readonly leaderElection?: false | LeaderElectionSettings;
  /** The sidecar injection webhook (HTTPS); absent: no webhook. */
  readonly webhook?: {
    readonly host: string;
    readonly port: number;
    readonly certFile: string;
    readonly keyFile: string;
    readonly settings: InjectionSettings;
  };
  /** Distribution over TLS with this certificate and key (PEM); proxies verify it with its CA. */
  readonly distributionTls?: { readonly cert: string; readonly key: string };
}

export interface RunningController {
  readonly store: ClusterStore;
  readonly controlPlane: ControlPlane;
  readonly server: string;
  readonly elector?: LeaderElector;
  readonly webhook?: InjectionWebhook;
  stop(): Promise<void>;
}

export function loadKubeConfig(file?: string, context?: string): KubeConfig {
  const kc = new KubeConfig();
  if (file) kc.loadFromFile(file);
  else kc.loadFromDefault();
  if (context) kc.setCurrentContext(context);
  if (!kc.getCurrentCluster())
    throw new Error(file ? `${file}: no current cluster` : 'no kubeconfig found (give --kubeconfig, set KUBECONFIG, or run in a pod)');
  return kc;
}

export async function startController(opts: ControllerOptions): Promise<RunningController> {
  const kc = loadKubeConfig(opts.kubeconfig, opts.context);
  const store = new ClusterStore({
    kc,
    kinds: CONTROLLER_KINDS,
    log: opts.log,
    ...(opts.watchTimeoutSeconds !== undefined ? { watchTimeoutSeconds: opts.watchTimeoutSeconds } : {}),
  });
  await store.start();
  let controlPlane: ControlPlane | undefined;
  const election = opts.leaderElection;
  const elector = election
    ? new LeaderElector({
        http: new KubeHttp(kc),
        ...election,
        // A new leader reconciles at once: what changed while nobody led gets its status.
        onStartedLeading: () => controlPlane?.resync(),
        onStoppedLeading: () => undefined,
        log: opts.log,
      })
    : undefined;
  controlPlane = new ControlPlane({
    store,
    host: opts.distributionHost ?? '0.0.0.0',
    port: opts.distributionPort ?? 0,
    token: opts.distributionToken,
    log: opts.log,
    tokenAuth: proxyTokenAuth(new KubeHttp(kc), store),
    ...(opts.distributionTls ? { serverTls: opts.distributionTls } : {}),
    ...(elector ? { leading: () => elector.isLeader() } : {}),
  });
  await controlPlane.start();
  elector?.start();
  const webhook = opts.webhook ? await startInjectionWebhook({ ...opts.webhook, store, log: opts.log }) : undefined;
  const cp = controlPlane;
  return {
    store,
    controlPlane: cp,
    server: kc.getCurrentCluster()!.server,
    ...(elector ? { elector } : {}),
    ...(webhook ? { webhook } : {}),
    stop: async () => {
      await webhook?.close();
      await elector?.stop();
      await cp.stop();
      store.close();
      await store.flushWrites();
    },
  };
}
