// Each verb lives in its own module; this table is the only place they are wired. A verb's module
// is imported only when that verb runs (or for help, which lists them all): loading every verb
// loads the whole system (schemas, control plane, store) and made `outpost version` take 0.7 s.
import type { Command } from 'commander';

type Register = (program: Command) => void;

/** Verb (and its aliases) → its registration, in the order help lists them. */
const VERBS: readonly { names: readonly string[]; load: () => Promise<Register> }[] = [
  { names: ['version'], load: async () => (await import('./version.js')).registerVersion },
  { names: ['up'], load: async () => (await import('./up.js')).registerUp },
  { names: ['down'], load: async () => (await import('./down.js')).registerDown },
  { names: ['kubeconfig'], load: async () => (await import('./kubeconfig.js')).registerKubeconfig },
  { names: ['apply'], load: async () => (await import('./apply.js')).registerApply },
  { names: ['delete'], load: async () => (await import('./delete.js')).registerDelete },
  { names: ['get'], load: async () => (await import('./get.js')).registerGet },
  { names: ['describe'], load: async () => (await import('./describe.js')).registerDescribe },
  { names: ['create'], load: async () => (await import('./create.js')).registerCreate },
  { names: ['label'], load: async () => (await import('./label.js')).registerLabel },
  { names: ['exec'], load: async () => (await import('./exec.js')).registerExec },
  { names: ['logs'], load: async () => (await import('./logs.js')).registerLogs },
  { names: ['proxy'], load: async () => (await import('./proxy.js')).registerProxy },
  { names: ['controller'], load: async () => (await import('./controller.js')).registerController },
  { names: ['install', 'uninstall'], load: async () => (await import('./install.js')).registerInstall },
  { names: ['proxy-config', 'pc'], load: async () => (await import('./proxy-config.js')).registerProxyConfig },
  { names: ['proxy-status', 'ps'], load: async () => (await import('./proxy-status.js')).registerProxyStatus },
  { names: ['validate'], load: async () => (await import('./validate.js')).registerValidate },
  { names: ['analyze'], load: async () => (await import('./analyze.js')).registerAnalyze },
  { names: ['dashboard'], load: async () => (await import('./dashboard.js')).registerDashboard },
];

/**
 * The registrations a run needs: the named verb's alone when `verb` is one, else all of them
 * (no verb, `help`, an unknown word: commander then lists or suggests among every verb).
 */
export async function loadRegistrations(verb: string | undefined): Promise<Register[]> {
  const one = VERBS.find((v) => verb !== undefined && v.names.includes(verb));
  return Promise.all((one ? [one] : VERBS).map((v) => v.load()));
}
