// The dashboard's own listener on the mesh's loopback address: the page and its assets under
// /dashboard/, the view as JSON and as server-sent events, and a proxy's config on demand.
// Every data request needs the mesh's credential: the kubeconfig's bearer token, or a session
// cookie (HttpOnly, SameSite=Strict) got from the token or from a one-time login link that
// `outpost dashboard` asks the control endpoint for. The Host header must name this listener
// (no DNS rebinding), and nothing is cached or sent as a Referer.
import { randomBytes } from 'node:crypto';
import { secretEquals as equalSecret } from '../../proxyconfig/bearer-token.js';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo, Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EgressView } from './view.js';

/** What the server needs of the aggregator (EgressViewCollector). */
export interface ViewSource {
  view(): Promise<EgressView>;
  subscribe(fn: (view: EgressView) => void): () => void;
}

export const DASHBOARD_PATH = '/dashboard/';
const COOKIE = 'outpost_dashboard';
const SESSION_MS = 12 * 3600_000;
const TICKET_MS = 120_000;
const MAX_TICKETS = 64;
const MAX_SESSIONS = 256;
const MAX_FORM_BYTES = 4096;
const SSE_HEARTBEAT_MS = 15_000;

export interface DashboardServerOptions {
  host: string;
  /** 0 or absent: a free port. */
  port?: number;
  token: string;
  collector: ViewSource;
  /** A proxy's config (secrets redacted), undefined when there is no such proxy. */
  proxyConfig(id: string): Promise<unknown | undefined>;
  log?: (line: string) => void;
}

export interface DashboardServer {
  /** http://HOST:PORT/dashboard/ */
  url: string;
  /** A link that logs a browser in once, within two minutes. */
  loginLink(): string;
  close(): Promise<void>;
}

/** The page's files: ours from the source tree (the same path from src/ and dist/), the graph library from node_modules. */
function assetFiles(): Map<string, { file: string; type: string }> {
  const web = fileURLToPath(new URL('../../../src/runtime/egress-view/web/', import.meta.url));
  const require = createRequire(import.meta.url);
  const cytoscape = join(dirname(require.resolve('cytoscape')), 'cytoscape.min.js');
  const elk = dirname(require.resolve('elkjs/lib/elk-api.js'));
  return new Map([
    ['app.js', { file: join(web, 'app.js'), type: 'text/javascript; charset=utf-8' }],
    ['graph.js', { file: join(web, 'graph.js'), type: 'text/javascript; charset=utf-8' }],
    ['style.css', { file: join(web, 'style.css'), type: 'text/css; charset=utf-8' }],
    ['vendor/cytoscape.min.js', { file: cytoscape, type: 'text/javascript; charset=utf-8' }],
    ['vendor/elk-api.js', { file: join(elk, 'elk-api.js'), type: 'text/javascript; charset=utf-8' }],
    ['vendor/elk-worker.min.js', { file: join(elk, 'elk-worker.min.js'), type: 'text/javascript; charset=utf-8' }],
  ]);
}

const SECURITY_HEADERS: Record<string, string> = {
  // Scripts (and the layout's worker) only from here; cytoscape writes its canvas layers' styles inline, hence style-src's 'unsafe-inline'.
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; worker-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

function cookieValue(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function loginPage(message: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>outpost dashboard: sign in</title><link rel="stylesheet" href="${DASHBOARD_PATH}assets/style.css"></head>
<body class="login"><main>
<h1>outpost egress dashboard</h1>
<p>${escapeHtml(message)}</p>
<p>Run <code>outpost dashboard</code> for a one-time login link, or paste the mesh's token (the kubeconfig's bearer token, <code>&lt;state dir&gt;/token</code>).</p>
<form method="post" action="${DASHBOARD_PATH}login">
<label for="token">Token</label>
<input id="token" name="token" type="password" autocomplete="off" required>
<button type="submit">Sign in</button>
</form>
</main></body></html>
`;
}

export async function startDashboardServer(opts: DashboardServerOptions): Promise<DashboardServer> {
  const assets = assetFiles();
  const assetCache = new Map<string, Buffer>();
  const sessions = new Map<string, number>();
  const tickets = new Map<string, number>();
  const streams = new Set<ServerResponse>();
  let origin = '';
  let hostHeader = '';

  const prune = (m: Map<string, number>): void => {
    const now = Date.now();
    for (const [k, exp] of m) if (exp <= now) m.delete(k);
  };
  const newSession = (res: ServerResponse): void => {
    prune(sessions);
    // Oldest first out: a flood of logins cannot grow this without bound.
    while (sessions.size >= MAX_SESSIONS) sessions.delete(sessions.keys().next().value!);
    const sid = randomBytes(32).toString('base64url');
    sessions.set(sid, Date.now() + SESSION_MS);
    res.setHeader('Set-Cookie', `${COOKIE}=${sid}; Path=${DASHBOARD_PATH}; HttpOnly; SameSite=Strict; Max-Age=${SESSION_MS / 1000}`);
  };
  const authorized = (req: IncomingMessage): boolean => {
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ')) return equalSecret(auth.slice('Bearer '.length).trim(), opts.token);
    const sid = cookieValue(req, COOKIE);
    if (!sid) return false;
    const exp = sessions.get(sid);
    if (exp === undefined) return false;
    if (exp <= Date.now()) {
      sessions.delete(sid);
      return false;
    }
    return true;
  };
  const send = (res: ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}): void => {
    res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...extra });
    res.end(body);
  };
  const json = (res: ServerResponse, status: number, body: unknown): void => send(res, status, 'application/json', JSON.stringify(body));
  const unauthorized = (req: IncomingMessage, res: ServerResponse, message = 'Sign in to see the egress view.'): void => {
    const wantsHtml = (req.headers.accept ?? '').includes('text/html');
    if (wantsHtml) send(res, 401, 'text/html; charset=utf-8', loginPage(message), { 'WWW-Authenticate': 'Bearer realm="outpost dashboard"' });
    else send(res, 401, 'application/json', JSON.stringify({ error: 'unauthorized' }), { 'WWW-Authenticate': 'Bearer realm="outpost dashboard"' });
  };
  const redirect = (res: ServerResponse, to: string): void => {
    res.writeHead(303, { ...SECURITY_HEADERS, Location: to, 'Content-Length': 0 });
    res.end();
  };

  async function readForm(req: IncomingMessage): Promise<URLSearchParams | undefined> {
    let size = 0;
    const chunks: Buffer[] = [];
    for await (const c of req as AsyncIterable<Buffer>) {
      size += c.length;
      if (size > MAX_FORM_BYTES) return undefined;
      chunks.push(c);
    }
    return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
  }

  function asset(name: string): Buffer | undefined {
    const a = assets.get(name);
    if (!a) return undefined;
    let b = assetCache.get(name);
    if (!b) assetCache.set(name, (b = readFileSync(a.file)));
    return b;
  }

  function events(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive' });
    res.write('retry: 2000\n\n');
    streams.add(res);
    const unsubscribe = opts.collector.subscribe((view) => res.write(`event: view\ndata: ${JSON.stringify(view)}\n\n`));
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), SSE_HEARTBEAT_MS);
    const done = (): void => {
      clearInterval(heartbeat);
      unsubscribe();
      streams.delete(res);
    };
    req.on('close', done);
    res.on('error', done);
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Only this listener's own name: a page on another name (DNS rebinding) gets nothing.
    if (req.headers.host !== hostHeader) return send(res, 421, 'text/plain', 'misdirected request\n');
    const url = new URL(req.url ?? '/', origin);
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (path === '/' || path === '/dashboard') return redirect(res, DASHBOARD_PATH);
    if (!path.startsWith(DASHBOARD_PATH)) return send(res, 404, 'text/plain', 'not found\n');
    const sub = path.slice(DASHBOARD_PATH.length);
    if (sub.startsWith('assets/') && method === 'GET') {
      // Static code and style, nothing of the mesh's: served without a session (the sign-in page uses the style).
      const name = sub.slice('assets/'.length);
      const body = asset(name);
      return body ? send(res, 200, assets.get(name)!.type, body) : send(res, 404, 'text/plain', 'not found\n');
    }
    if (sub === 'login' && method === 'GET') {
      const ticket = url.searchParams.get('ticket') ?? '';
      prune(tickets);
      if (!ticket || !tickets.has(ticket)) return unauthorized(req, res, 'That login link was used already or has expired.');
      tickets.delete(ticket);
      newSession(res);
      return redirect(res, DASHBOARD_PATH);
    }
    if (sub === 'login' && method === 'POST') {
      // A form posted from another site must not sign this browser in (login CSRF).
      if (req.headers.origin !== undefined && req.headers.origin !== origin) return send(res, 403, 'text/plain', 'cross-origin sign-in refused\n');
      const form = await readForm(req);
      if (!form || !equalSecret(form.get('token')?.trim() ?? '', opts.token)) return unauthorized(req, res, "That token is not the mesh's.");
      newSession(res);
      return redirect(res, DASHBOARD_PATH);
    }
    if (!authorized(req)) return unauthorized(req, res);
    if (sub === 'logout' && method === 'POST') {
      const sid = cookieValue(req, COOKIE);
      if (sid) sessions.delete(sid);
      res.setHeader('Set-Cookie', `${COOKIE}=; Path=${DASHBOARD_PATH}; HttpOnly; SameSite=Strict; Max-Age=0`);
      return redirect(res, DASHBOARD_PATH);
    }
    if (method !== 'GET') return send(res, 405, 'text/plain', 'method not allowed\n');
    if (sub === '' || sub === 'index.html')
      return send(
        res,
        200,
        'text/html; charset=utf-8',
        readFileSync(fileURLToPath(new URL('../../../src/runtime/egress-view/web/index.html', import.meta.url))),
      );
    if (sub === 'api/view') return json(res, 200, await opts.collector.view());
    if (sub === 'api/events') return events(req, res);
    if (sub === 'api/proxy-config') {
      const id = url.searchParams.get('id') ?? '';
      const cfg = await opts.proxyConfig(id);
      return cfg === undefined ? json(res, 404, { error: `no proxy ${id}` }) : json(res, 200, cfg);
    }
    return send(res, 404, 'text/plain', 'not found\n');
  }

  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      opts.log?.(`dashboard: ${req.method} ${url(req)}: ${(err as Error).message}`);
      if (!res.headersSent) send(res, 500, 'text/plain', 'internal error\n');
      else res.end();
    });
  });
  // Query strings are left out of logs (a login ticket is one).
  const url = (req: IncomingMessage): string => (req.url ?? '').split('?')[0]!;
  server.on('clientError', (_e, socket: Socket) => socket.destroy());
  server.headersTimeout = 20_000;
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  hostHeader = `${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  origin = `http://${hostHeader}`;
  return {
    url: `${origin}${DASHBOARD_PATH}`,
    loginLink: () => {
      prune(tickets);
      while (tickets.size >= MAX_TICKETS) tickets.delete(tickets.keys().next().value!);
      const t = randomBytes(32).toString('base64url');
      tickets.set(t, Date.now() + TICKET_MS);
      return `${origin}${DASHBOARD_PATH}login?ticket=${t}`;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of streams) s.end();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
