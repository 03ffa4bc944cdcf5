// The control plane's public face: the ControlPlane, translation and the snapshot.
// (The distribution client a proxy runs sits beside the contract, in src/proxyconfig/distribution.)
export { ControlPlane, type ControlPlaneOptions } from './control-plane.js';
export type { ProxyStatusRow } from '../proxyconfig/distribution/protocol.js';
export { translate, type TranslateOptions } from './translate/index.js';
export { snapshotFromObjects, snapshotFromStore, type MeshSnapshot } from './snapshot.js';
export { registryFor, ServiceRegistry } from './registry/index.js';
export { tlsMaterialProblems, formatTlsMaterialProblem, type TlsMaterialProblem } from './translate/tls-material.js';
