// translate(snapshot, identity) → ProxyConfig: pure and deterministic; the version is a hash of the content.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  PROXY_CONFIG_API,
  type CaptureConfig,
  type Cluster,
  type Listener,
  type ProxyConfig,
  type ProxyIdentity,
  type RouteTable,
} from '../../proxyconfig/types.js';
import type { MeshSnapshot } from '../snapshot.js';
import { sortedRecord } from '../sort-order.js';
import { meshSettings, ssrfGuardMode, trustDomainOf } from '../mesh-settings.js';
import { ssrfGuardFor, type SsrfGuardContext } from './ssrf-guard.js';
import { registryFor } from '../registry/index.js';
import { DestinationRuleIndex } from './clusters.js';
import { credentialsIn, memoMaterial, type PemReader } from './tls-material.js';
import { gatewayApiModel } from './gateway-api.js';
import { translateGateway } from './gateway.js';
import { gatewayModel, virtualServiceModel } from './istio-model.js';
import type { GatewayModel, VirtualServiceModel } from './model.js';
import { translateSidecar } from './sidecar.js';
import { translateCapture } from './capture.js';
import { authorizationFor } from './authorization.js';
import { meshSecurity, PeerAuthIndex } from './peer-authentication.js';
import { ISTIO_NETWORKING_GROUP } from '../../api/groups.js';
import type { IstioGateway } from '../../api/kinds/istio-gateway.js';
import type { VirtualService } from '../../api/kinds/virtual-service.js';

export interface TranslateOptions {
  /**
   * Resolves TLS material named in resources: inline PEM is returned as is, anything else is
   * read as a file. Defaults to the local file system; tests pass fixtures.
   */
  readonly readPem?: PemReader;
  /** The mesh's own networks and control endpoints for the SSRF guard (from the runtime); absent: built-in ranges only. */
  readonly ssrfGuard?: SsrfGuardContext;
}

/** Inline PEM as is, else the file's text; throws (ENOENT, EACCES…) when the file cannot be read. */
export const readPemFromFs: PemReader = (value) => (value.includes('-----BEGIN') ? value : readFileSync(value, 'utf8'));

interface SnapshotModels {
  readonly gateways: readonly GatewayModel[];
  readonly virtualServices: readonly VirtualServiceModel[];
  readonly destinationRules: DestinationRuleIndex;
}

const models = new WeakMap<MeshSnapshot, SnapshotModels>();

/** The routing model of a snapshot (Istio and Gateway API resources in one shape), built once per snapshot. */
export function snapshotModels(snapshot: MeshSnapshot): SnapshotModels {
  let m = models.get(snapshot);
  if (!m) {
    const gwApi = gatewayApiModel(snapshot);
    m = {
      gateways: [...(snapshot.of(ISTIO_NETWORKING_GROUP, 'Gateway') as readonly IstioGateway[]).map(gatewayModel), ...gwApi.gateways],
      virtualServices: [
        ...(snapshot.of(ISTIO_NETWORKING_GROUP, 'VirtualService') as readonly VirtualService[]).map(virtualServiceModel),
        ...gwApi.virtualServices,
      ],
      destinationRules: new DestinationRuleIndex(snapshot),
    };
    models.set(snapshot, m);
  }
  return m;
}

/** Canonical JSON: object keys sorted, so equal content always hashes equally (hand-rolled: a replacer is much slower on large configs). */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return v === undefined ? 'null' : JSON.stringify(v);
  if (Array.isArray(v)) {
    let s = '[';
    for (let i = 0; i < v.length; i++) s += (i ? ',' : '') + canonicalJson(v[i]);
    return `${s}]`;
  }
  const rec = v as Record<string, unknown>;
  const keys = Object.keys(rec);
  if (keys.length > 1) keys.sort();
  let s = '{';
  let first = true;
  for (const k of keys) {
    const x = rec[k];
    if (x === undefined || typeof x === 'function') continue;
    s += `${first ? '' : ','}${JSON.stringify(k)}:${canonicalJson(x)}`;
    first = false;
  }
  return `${s}}`;
}

/** Arrays longer than this are written in batches, so no single JSON string holds the whole config. */
const STREAM_ARRAY_MIN = 16;
/** Elements stringified together (one JSON.stringify call per batch keeps the call count low). */
const BATCH = 256;
/** Text is handed to the hash in chunks of about this many characters. */
const HASH_CHUNK = 1 << 16;

function isSkipped(x: unknown): boolean {
  return x === undefined || typeof x === 'function' || typeof x === 'symbol';
}

/** Must this value be walked rather than stringified whole (it holds a large array somewhere near the top)? */
function needsWalk(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return false;
  if (Array.isArray(v)) return v.length > STREAM_ARRAY_MIN || v.some(needsWalkShallow);
  if ('toJSON' in v) return false;
  for (const k in v as Record<string, unknown>) if (needsWalkShallow((v as Record<string, unknown>)[k])) return true;
  return false;
}

function needsWalkShallow(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return false;
  if (Array.isArray(v)) return v.length > STREAM_ARRAY_MIN;
  if ('toJSON' in v) return false;
  for (const k in v as Record<string, unknown>) {
    const x = (v as Record<string, unknown>)[k];
    if (Array.isArray(x) && x.length > STREAM_ARRAY_MIN) return true;
  }
  return false;
}

/**
 * JSON text of frozen config parts. Translation freezes only what it shares between proxies (and
 * freezes it deeply), so the text of such a part never changes: the next proxy's hash reuses it.
 */
const sharedText = new WeakMap<object, string>();
/** Frozen parts hashed once already: their text is cached the second time (most frozen parts are seen by many proxies). */
const hashedOnce = new WeakSet<object>();

function isShared(x: unknown): x is object {
  return x !== null && typeof x === 'object' && Object.isFrozen(x);
}

/** Is `x` to be written on its own (from or into the text cache) rather than in a batch? Marks first sightings. */
function writesAlone(x: unknown): boolean {
  if (!isShared(x)) return false;
  if (sharedText.has(x) || hashedOnce.has(x)) return true;
  hashedOnce.add(x);
  return false;
}

function textOfShared(x: object): string {
  let t = sharedText.get(x);
  if (t === undefined) sharedText.set(x, (t = JSON.stringify(x)));
  return t;
}

/**
 * Writes exactly the text of `JSON.stringify(v)` in pieces: values holding large arrays are walked,
 * runs of other array elements are stringified in batches, everything else whole.
 */
function writeJson(v: unknown, write: (s: string) => void): void {
  if (!needsWalk(v)) {
    write(JSON.stringify(v));
    return;
  }
  if (Array.isArray(v)) {
    write('[');
    let i = 0;
    while (i < v.length) {
      if (i) write(',');
      const x: unknown = v[i];
      if (writesAlone(x)) {
        write(textOfShared(x as object));
        i++;
        continue;
      }
      if (needsWalkShallow(x)) {
        writeJson(x, write);
        i++;
        continue;
      }
      // A run of plain elements: JSON.stringify of the slice, without its brackets.
      let j = i + 1;
      while (j < v.length && j - i < BATCH && !needsWalkShallow(v[j]) && !writesAlone(v[j])) j++;
      const text = JSON.stringify(v.slice(i, j));
      write(text.slice(1, -1));
      i = j;
    }
    write(']');
    return;
  }
  const o = v as Record<string, unknown>;
  write('{');
  let first = true;
  for (const k of Object.keys(o)) {
    const x = o[k];
    if (isSkipped(x)) continue;
    write(`${first ? '' : ','}${JSON.stringify(k)}:`);
    writeJson(x, write);
    first = false;
  }
  write('}');
}

/** sha256 of `JSON.stringify(body)`, without building that (multi-megabyte) string. */
export function contentVersion(body: unknown): string {
  const hash = createHash('sha256');
  let buf = '';
  writeJson(body, (s) => {
    buf += s;
    if (buf.length >= HASH_CHUNK) {
      hash.update(buf);
      buf = '';
    }
  });
  hash.update(buf);
  return hash.digest('hex').slice(0, 16);
}

function uniqueByName<T extends { name: string }>(items: readonly T[]): T[] {
  const seen = new Set<string>();
  return items.filter((i) => (seen.has(i.name) ? false : (seen.add(i.name), true)));
}

/** The first item of each name, ordered by name (the built-in string sort compares as compareStrings does, without a JS comparator). */
function uniqueSortedByName<T extends { name: string }>(items: readonly T[]): T[] {
  const byName = new Map<string, T>();
  for (const i of items) if (!byName.has(i.name)) byName.set(i.name, i);
  const names = [...byName.keys()].sort();
  return names.map((n) => byName.get(n)!);
}

export function translate(snapshot: MeshSnapshot, identity: ProxyIdentity, options: TranslateOptions = {}): ProxyConfig {
  const readPem = options.readPem ?? readPemFromFs;
  const registry = registryFor(snapshot);
  const m = snapshotModels(snapshot);
  const mesh = meshSettings(snapshot);
  const peerAuth = PeerAuthIndex.of(snapshot);
  const clusterContext = {
    proxyNamespace: identity.namespace,
    proxyLabels: identity.labels,
    proxyIsGateway: identity.role === 'router',
    destinationRules: m.destinationRules,
    readMaterial: memoMaterial(readPem),
    credential: credentialsIn(snapshot.of('', 'Secret'), identity.namespace),
    autoMtls: meshSecurity(snapshot).autoMtls,
    trustDomain: trustDomainOf(snapshot.of('sailoperator.io', 'Istio')),
    peerMode: (ns: string, labels: Readonly<Record<string, string>>, port: number | undefined) => peerAuth.modeFor(ns, labels, port),
  };
  let listeners: Listener[];
  let routeTables: RouteTable[];
  let clusters: Cluster[];
  let effectiveMesh = mesh;
  let capture: CaptureConfig | undefined;
  if (identity.role === 'router') {
    ({ listeners, routeTables, clusters } = translateGateway({
      snapshot,
      identity,
      registry,
      gateways: m.gateways,
      virtualServices: m.virtualServices,
      clusterContext,
    }));
  } else {
    ({
      mesh: effectiveMesh,
      listeners,
      routeTables,
      clusters,
    } = translateSidecar({ snapshot, identity, mesh, registry, virtualServices: m.virtualServices, clusterContext }));
    if (identity.capture === true) {
      const c = translateCapture({
        snapshot,
        identity,
        registry,
        listeners,
        clusters,
        peerMode: (port) => peerAuth.modeFor(identity.namespace, identity.labels, port),
      });
      listeners = [...listeners, ...c.listeners];
      routeTables = [...routeTables, ...c.routeTables];
      clusters = [...clusters, ...c.clusters];
      capture = c.capture;
    }
  }
  const guardMode = ssrfGuardMode(snapshot);
  if (guardMode !== 'DISABLED') effectiveMesh = { ...effectiveMesh, ssrfGuard: ssrfGuardFor(guardMode, registry, identity.namespace, options.ssrfGuard) };
  const authorization = authorizationFor(snapshot, identity);
  const body = {
    apiVersion: PROXY_CONFIG_API,
    // Every map that comes from input is key-sorted where it is built, so plain JSON text is canonical.
    proxy: { ...identity, labels: sortedRecord(identity.labels) },
    mesh: effectiveMesh,
    listeners: uniqueByName(listeners),
    routeTables: uniqueByName(routeTables),
    clusters: uniqueSortedByName(clusters),
    ...(authorization !== undefined ? { authorization } : {}),
    ...(capture !== undefined ? { capture } : {}),
  };
  const version = contentVersion(body);
  return {
    apiVersion: body.apiVersion,
    version,
    proxy: body.proxy,
    mesh: body.mesh,
    listeners: body.listeners,
    routeTables: body.routeTables,
    clusters: body.clusters,
    ...(authorization !== undefined ? { authorization } : {}),
    ...(capture !== undefined ? { capture } : {}),
  };
}
