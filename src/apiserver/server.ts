// The Kubernetes REST surface over the store, on node:http: discovery, OpenAPI, resources
// (/api/v1/…, /apis/{group}/{version}/…) and outpost's batch apply. Holds no state of its own.
import { bearerMatches as tokenMatches } from '../proxyconfig/bearer-token.js';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import type { FieldIssue } from '../api/field-issue.js';
import type { KubeObject } from '../api/object.js';
import { applySchemaDefaults, validateObject } from '../api/validate.js';
import { StoreUnavailableError } from '../store/integrity.js';
import type { Store } from '../store/types.js';
import { Admission } from './admission.js';
import { batchApply } from './batch-apply.js';
import {
  AGGREGATED_CONTENT_TYPE,
  aggregatedDiscovery,
  apiGroupDoc,
  apiGroupList,
  apiResourceList,
  apiVersions,
  findKind,
  wantsAggregated,
} from './discovery.js';
import { parseJsonBody, readBody, sendJson, sendStatus, warningHeaders } from './http-util.js';
import { openApiV3Document, openApiV3Root } from './openapi.js';
import { ResourceHandler, type LogsFor, type ResourceRequest } from './resources.js';
import { makeServingCert, type ServingCert } from './serving-cert.js';
import { rememberServingCert } from './kubeconfig.js';
import { HttpError, notFound, toHttpError } from './status.js';
import { ServiceAccountTokens } from './service-account-tokens.js';
import { BATCH_APPLY_PATH } from './paths.js';

/** The Kubernetes version outpost's API reports (/version); kubectl 1.32 is within skew. */
const SERVED_KUBE_VERSION = { major: '1', minor: '32', gitVersion: 'v1.32.0-outpost' };

export interface ApiServerOptions {
  store: Store;
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Every request must carry `Authorization: Bearer <token>`. */
  token: string;
  /** Field validation; defaults to src/api/validate.ts. */
  validate?: (obj: KubeObject) => FieldIssue[];
  /** Schema defaults written on admission; defaults to src/api/validate.ts. */
  defaults?: (obj: KubeObject) => KubeObject;
  /** Pod logs for `kubectl logs`. */
  logsFor?: LogsFor;
  /**
   * TLS on the same port (kubectl sends a bearer token only over TLS). Default: a fresh self-signed
   * certificate for the host; false: plain HTTP only.
   */
  tls?: boolean | ServingCert;
}

export interface ApiServer {
  /** Plain HTTP (what outpost's own ApiClient uses). */
  url: string;
  /** The same port over TLS, for kubectl; undefined when TLS is off. */
  httpsUrl?: string;
  /** The certificate httpsUrl serves (its own CA), for a kubeconfig's certificate-authority-data. */
  caPem?: string;
  close(): Promise<void>;
}

/** /api/v1/namespaces/ns/services/name/status → its parts; undefined for a discovery path. */
function resourceRequest(segments: string[]): ResourceRequest | 'discovery' | undefined {
  let group: string;
  let version: string | undefined;
  let rest: string[];
  if (segments[0] === 'api') {
    group = '';
    version = segments[1];
    rest = segments.slice(2);
  } else {
    group = segments[1] ?? '';
    version = segments[2];
    rest = segments.slice(3);
  }
  if (!version) return undefined;
  if (rest.length === 0) return 'discovery';
  let namespace: string | undefined;
  // /namespaces/{ns}/{plural}… is a namespaced resource; /namespaces[/{name}[/status]] is the Namespace kind itself.
  if (rest[0] === 'namespaces' && rest.length >= 3 && !(group === '' && rest.length === 3 && rest[2] === 'status')) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural, name, subresource, ...extra] = rest;
  if (extra.length > 0 || !plural) return undefined;
  const info = findKind(group, version, plural);
  if (!info) return undefined;
  if (namespace !== undefined && !info.namespaced) return undefined;
  return { info, version, namespace, name, subresource };
}

export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const admission = new Admission(opts.validate ?? validateObject, opts.defaults ?? ((o) => applySchemaDefaults(o)));
  const resources = new ResourceHandler(opts.store, admission, opts.logsFor);
  const tokens = new ServiceAccountTokens(opts.store);
  const host = opts.host ?? '127.0.0.1';
  let serverAddress = '';

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://outpost');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (path === '/healthz' || path === '/readyz' || path === '/livez') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok');
      return;
    }
    if (!tokenMatches(req.headers.authorization, opts.token)) throw new HttpError(401, 'Unauthorized', 'Unauthorized');
    const accept = req.headers.accept;
    const method = req.method ?? 'GET';
    if (path === BATCH_APPLY_PATH) {
      if (method !== 'POST') throw new HttpError(405, 'MethodNotAllowed', 'POST the objects to apply');
      const { results, warnings } = batchApply(opts.store, admission, parseJsonBody(await readBody(req)));
      if (warnings.length) res.setHeader('Warning', warningHeaders(warnings));
      sendJson(res, 200, { results });
      return;
    }
    if (method === 'GET') {
      if (path === '/version')
        return sendJson(res, 200, {
          ...SERVED_KUBE_VERSION,
          gitCommit: '',
          gitTreeState: 'clean',
          buildDate: '2025-01-01T00:00:00Z',
          goVersion: 'node',
          compiler: 'node',
          platform: `${process.platform}/${process.arch}`,
        });
      if (path === '/api') {
        if (wantsAggregated(accept)) return sendJson(res, 200, aggregatedDiscovery(true), AGGREGATED_CONTENT_TYPE);
        return sendJson(res, 200, apiVersions(serverAddress));
      }
      if (path === '/apis') {
        if (wantsAggregated(accept)) return sendJson(res, 200, aggregatedDiscovery(false), AGGREGATED_CONTENT_TYPE);
        return sendJson(res, 200, apiGroupList());
      }
      if (path === '/openapi/v3') return sendJson(res, 200, openApiV3Root());
      if (path.startsWith('/openapi/v3/')) {
        const gv = path.slice('/openapi/v3/'.length).split('/');
        const doc = gv[0] === 'api' ? openApiV3Document('', gv[1] ?? '') : gv[0] === 'apis' ? openApiV3Document(gv[1] ?? '', gv[2] ?? '') : undefined;
        if (!doc) throw notFound('the server could not find the requested resource');
        return sendJson(res, 200, doc, 'application/json', { 'Cache-Control': url.searchParams.has('hash') ? 'public, immutable' : 'no-cache, private' });
      }
    }
    const segments = path.split('/').filter(Boolean).map(decodeURIComponent);
    if (method === 'POST') {
      // TokenRequest and TokenReview: virtual resources, nothing stored.
      if (
        segments.length === 7 &&
        segments[0] === 'api' &&
        segments[1] === 'v1' &&
        segments[2] === 'namespaces' &&
        segments[4] === 'serviceaccounts' &&
        segments[6] === 'token'
      ) {
        return sendJson(res, 201, tokens.request(segments[3]!, segments[5]!, parseJsonBody(await readBody(req))));
      }
      if (path === '/apis/authentication.k8s.io/v1/tokenreviews') return sendJson(res, 201, tokens.review(parseJsonBody(await readBody(req))));
    }
    if (segments[0] === 'apis' && segments.length === 2 && method === 'GET') {
      const doc = apiGroupDoc(segments[1]!);
      if (doc) return sendJson(res, 200, doc);
      throw notFound('the server could not find the requested resource');
    }
    if (segments[0] !== 'api' && segments[0] !== 'apis') throw notFound('the server could not find the requested resource');
    const r = resourceRequest(segments);
    if (r === 'discovery') {
      const doc =
        method === 'GET' ? apiResourceList(segments[0] === 'api' ? '' : segments[1]!, segments[0] === 'api' ? segments[1]! : segments[2]!) : undefined;
      if (!doc) throw notFound('the server could not find the requested resource');
      return sendJson(res, 200, doc);
    }
    if (!r) throw notFound('the server could not find the requested resource');
    await resources.handle(req, res, r, url.searchParams);
  }

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    route(req, res).catch((err: unknown) => {
      const e = toHttpError(err);
      // A store that cannot serve is an operational condition (one line); anything else is a bug (its stack).
      if (e.code >= 500)
        process.stderr.write(
          `outpost api: ${req.method} ${req.url}: ${err instanceof StoreUnavailableError ? err.message : err instanceof Error ? err.stack : String(err)}\n`,
        );
      if (res.headersSent) res.end();
      else {
        // The rest of a too-large body is not worth reading: close instead of keeping the connection.
        if (e.code === 413) res.setHeader('Connection', 'close');
        sendStatus(res, e);
      }
    });
  };
  let cert: ServingCert | undefined;
  if (opts.tls !== false) {
    cert = typeof opts.tls === 'object' ? opts.tls : makeServingCert([host]);
  }
  const http = createServer(handler);
  const https = cert ? createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, handler) : undefined;
  for (const s of [http, https]) {
    if (!s) continue;
    // Watches are long-lived; node's default request timeout would cut them.
    s.requestTimeout = 0;
    s.headersTimeout = 60_000;
    s.keepAliveTimeout = 65_000;
  }
  const sockets = new Set<Socket>();
  // One port for both: a TLS ClientHello starts with 0x16, an HTTP request never does.
  const listener = createNetServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.once('error', () => socket.destroy());
    socket.once('readable', () => {
      const first = socket.read(1) as Buffer | null;
      if (first === null) return socket.destroy();
      socket.unshift(first);
      if (first[0] === 0x16 && https) https.emit('connection', socket);
      else http.emit('connection', socket);
    });
  });
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(opts.port ?? 0, host, () => {
      listener.off('error', reject);
      resolve();
    });
  });
  const addr = listener.address() as AddressInfo;
  const hostPart = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  serverAddress = `${hostPart}:${addr.port}`;
  const url = `http://${serverAddress}`;
  const httpsUrl = cert ? `https://${serverAddress}` : undefined;
  if (cert && httpsUrl) rememberServingCert(url, { httpsUrl, caPem: cert.certPem });
  return {
    url,
    ...(httpsUrl && cert ? { httpsUrl, caPem: cert.certPem } : {}),
    close: () =>
      new Promise<void>((resolve) => {
        listener.close(() => resolve());
        for (const s of sockets) s.destroy();
        http.closeAllConnections();
        https?.closeAllConnections();
      }),
  };
}
