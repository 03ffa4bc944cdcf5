// The dashboard's listener on its own: who gets in (token, form, one-time link, cookie), what is
// refused (no credential, another host name, a cross-site sign-in), the server-sent events, and
// the page in chromium with a synthetic mesh of 50 workloads and 500 external hosts.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { startDashboardServer, type ViewSource } from '../../../src/runtime/egress-view/server.js';
import type { EgressView } from '../../../src/runtime/egress-view/view.js';
import { artifactsDir, browserSkipReason, launchChromium } from '../../helpers/browser.js';
import { syntheticView } from '../../helpers/egress-view-data.js';
import { eventually } from '../../helpers/mesh.js';

const TOKEN = 'dashboard-test-token-0123456789';

function staticSource(view: EgressView): ViewSource {
  return { view: async () => view, subscribe: (fn) => (fn(view), () => undefined) };
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request with exactly these headers (Host included), reading at most `maxBytes` of the body. */
function call(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string; maxBytes?: number } = {}): Promise<Answer> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, method: opts.method ?? 'GET', headers: { host: u.host, ...opts.headers } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
          if (opts.maxBytes !== undefined && body.length >= opts.maxBytes) {
            res.destroy();
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
          }
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

test('dashboard credentials: token, sign-in form, one-time link, session cookie; refusals', async (t) => {
  const view = syntheticView(3, 5);
  const server = await startDashboardServer({
    host: '127.0.0.1',
    token: TOKEN,
    collector: staticSource(view),
    proxyConfig: async (id) => (id === 'p1' ? { id, config: { listeners: [] } } : undefined),
  });
  t.after(() => server.close());
  const base = server.url;
  const origin = new URL(base).origin;

  assert.equal((await call(origin + '/')).headers.location, '/dashboard/');
  for (const path of ['', 'api/view', 'api/events', 'api/proxy-config?id=p1']) {
    assert.equal((await call(base + path)).status, 401, `${path} without a credential`);
  }
  const page = await call(base, { headers: { accept: 'text/html' } });
  assert.equal(page.status, 401);
  assert.match(page.body, /<form method="post" action="\/dashboard\/login">/);
  assert.match(String(page.headers['content-security-policy']), /script-src 'self'/);
  assert.equal(page.headers['referrer-policy'], 'no-referrer');
  assert.equal(page.headers['cache-control'], 'no-store');
  assert.equal((await call(base + 'api/view', { headers: { authorization: 'Bearer wrong' } })).status, 401);

  const withToken = await call(base + 'api/view', { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(withToken.status, 200);
  assert.equal((JSON.parse(withToken.body) as EgressView).hosts.length, 5);
  assert.equal((await call(base + 'api/proxy-config?id=p1', { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
  assert.equal((await call(base + 'api/proxy-config?id=nope', { headers: { authorization: `Bearer ${TOKEN}` } })).status, 404);
  // Another name for this address (DNS rebinding) gets nothing, even with the token.
  assert.equal((await call(base + 'api/view', { headers: { host: `attacker.example:${new URL(base).port}`, authorization: `Bearer ${TOKEN}` } })).status, 421);

  // The sign-in form: the token for a cookie; not from another site's page.
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  assert.equal((await call(base + 'login', { method: 'POST', headers: form, body: 'token=wrong' })).status, 401);
  assert.equal((await call(base + 'login', { method: 'POST', headers: { ...form, origin: 'http://evil.example' }, body: `token=${TOKEN}` })).status, 403);
  const signedIn = await call(base + 'login', { method: 'POST', headers: { ...form, origin }, body: `token=${TOKEN}` });
  assert.equal(signedIn.status, 303);
  const setCookie = String(signedIn.headers['set-cookie']);
  assert.match(setCookie, /^outpost_dashboard=[A-Za-z0-9_-]{40,}; Path=\/dashboard\/; HttpOnly; SameSite=Strict; Max-Age=43200$/);
  const cookie = setCookie.split(';')[0]!;
  assert.equal((await call(base + 'api/view', { headers: { cookie } })).status, 200);
  assert.equal((await call(base + 'api/view', { headers: { cookie: 'outpost_dashboard=forged' } })).status, 401);

  // The one-time link: once, then never again.
  const link = server.loginLink();
  const first = await call(link);
  assert.equal(first.status, 303);
  assert.equal(first.headers.location, '/dashboard/');
  assert.match(String(first.headers['set-cookie']), /HttpOnly; SameSite=Strict/);
  assert.equal((await call(link)).status, 401);

  // Server-sent events carry the view.
  const sse = await call(base + 'api/events', { headers: { cookie }, maxBytes: 200 });
  assert.equal(sse.status, 200);
  assert.match(String(sse.headers['content-type']), /^text\/event-stream/);
  assert.match(sse.body, /event: view\ndata: \{"generatedAt"/);

  // Signing out ends the session.
  assert.equal((await call(base + 'logout', { method: 'POST', headers: { cookie } })).status, 303);
  assert.equal((await call(base + 'api/view', { headers: { cookie } })).status, 401);
});

test('the page in chromium with 50 workloads and 500 external hosts renders and stays usable', { skip: browserSkipReason() }, async (t) => {
  const view = syntheticView(50, 500);
  const server = await startDashboardServer({ host: '127.0.0.1', token: TOKEN, collector: staticSource(view), proxyConfig: async () => undefined });
  t.after(() => server.close());
  const context = await launchChromium(t);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  const started = Date.now();
  await page.goto(server.loginLink());
  await page.locator('#host-count', { hasText: '500 of 500 hosts' }).waitFor();
  const rendered = Date.now() - started;
  await page.locator('#graph[data-layout="done"]').waitFor({ timeout: 120_000 });
  const laidOut = Date.now() - started;
  // The graph shows the busiest hosts and folds the rest into one node per sender; the table has them all.
  const [drawn, expected, folded] = (await page.evaluate(
    '(() => { const d = window.egressDashboard; const f = EgressGraph.foldHosts(d.state.view); return [d.graph().cy.nodes().length, f.nodes.length, d.graph().cy.nodes().filter((n) => /^\\d+ more hosts/.test(n.data("label"))).length]; })()',
  )) as number[];
  assert.equal(drawn, expected);
  assert.ok(folded! >= 1, 'hosts beyond the busiest are folded');
  assert.equal(await page.locator('#hosts tbody tr').count(), 500);

  const t0 = Date.now();
  await page.locator('#host-filter').fill('host-42.');
  await eventually('the filter narrows 500 rows', async () => ((await page.locator('#hosts tbody tr').count()) === 1 ? true : undefined), 50);
  const filtered = Date.now() - t0;
  await page.locator('#host-filter').fill('');
  const sort = page.locator('#hosts th button[data-key="p99Ms"]');
  await sort.focus();
  const t1 = Date.now();
  await page.keyboard.press('Enter');
  await page.keyboard.press('Enter');
  assert.equal(await page.locator('#hosts th:has(button[data-key="p99Ms"])').getAttribute('aria-sort'), 'descending');
  const sorted = Date.now() - t1;
  // The page still answers after all that (a hung main thread would time this out).
  assert.equal(await page.evaluate(() => document.querySelectorAll('#hosts tbody tr').length), 500);
  await page.screenshot({ path: join(artifactsDir(), 'dashboard-500-hosts.png') });
  assert.deepEqual(errors, []);
  t.diagnostic(
    `synthetic mesh (${view.nodes.length} nodes, ${view.edges.length} edges): table ${rendered} ms, graph laid out ${laidOut} ms, filter ${filtered} ms, two keyboard sorts ${sorted} ms`,
  );
});
