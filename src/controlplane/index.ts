// The control plane's public face: the ControlPlane, the distribution client, translation and the snapshot.
export { ControlPlane, type ControlPlaneOptions } from './control-plane.js';
export { ConfigClient, type ConfigClientOptions } from './distribution/client.js';
export type { ProxyStatusRow } from './distribution/protocol.js';
export { translate, type TranslateOptions } from './translate/index.js';
export { snapshotFromObjects, snapshotFromStore, type MeshSnapshot } from './snapshot.js';
export { registryFor, ServiceRegistry } from './registry/index.js';
export { tlsMaterialProblems, formatTlsMaterialProblem, type TlsMaterialProblem } from './translate/tls-material.js';
