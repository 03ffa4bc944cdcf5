// The egress dashboard in a real browser (Debian's chromium driven by playwright-core) against a
// running mesh with the seed's traffic: curl → sidecar → egress gateway → docs.redhat.com. It
// checks the credential (401 without it, a one-time link, an HttpOnly SameSite=Strict cookie),
// the graph's counts, a blocked request under REGISTRY_ONLY, a config change shown without a
// reload, keyboard use and text contrast (a mesh of 500 hosts: test/integration/dashboard-server.test.ts).
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { DOCS_HOST, UNLISTED_HOST, startExternalServices } from '../../helpers/external.js';
import { artifactsDir, browserSkipReason, launchChromium } from '../../helpers/browser.js';
import { eventually, startTestMesh, type TestMesh } from '../../helpers/mesh.js';
import { istioResource, outboundPolicy } from '../../helpers/istio-resource.js';

const SEED = fileURLToPath(new URL('../../fixtures/seed/', import.meta.url));
const seed = (name: string): string => join(SEED, name);
const REQUESTS = 3;

async function seedPath(mesh: TestMesh): Promise<void> {
  await mesh.ok(['apply', '-f', seed('istio.yaml')]);
  await mesh.ok(['apply', '-f', seed('namespaces.yaml')]);
  await mesh.ok(['apply', '-f', seed('egressgw.yaml')]);
  await mesh.ok(['apply', '-n', 'curl', '-f', seed('curl.yaml')]);
  await mesh.ok(['apply', '-f', seed('http-se.yaml')]);
  await mesh.ok(['apply', '-f', seed('http-gtw.yaml')]);
  await mesh.ok(['apply', '-f', seed('http-vs.yaml')]);
}

/**
 * The text of every visible element that holds text, with its colour, the background it sits on
 * and the WCAG ratio between them. A string, so that the TypeScript loader's helpers (which the
 * page does not have) stay out of the code the browser runs.
 */
const CONTRAST_SCRIPT = `(() => {
  const parse = (c) => {
    const m = /rgba?\\(([^)]+)\\)/.exec(c);
    if (!m) return [0, 0, 0, 0];
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p[3] ?? 1];
  };
  const lum = ([r, g, b]) => {
    const f = (v) => { const s = v / 255; return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  // The first opaque background up the tree (the page is white at the root).
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c[3] > 0.5) return c;
    }
    return [255, 255, 255, 1];
  };
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim()).map((n) => n.textContent.trim()).join(' ');
    if (!own) continue;
    const r = el.getBoundingClientRect();
    const cs = getComputedStyle(el);
    if (r.width === 0 || r.height === 0 || cs.visibility === 'hidden' || el.closest('.visually-hidden, .skip')) continue;
    const fg = lum(parse(cs.color));
    const bg = lum(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    const size = parseFloat(cs.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(cs.fontWeight) >= 700);
    out.push({ text: own.slice(0, 40), ratio, large });
  }
  return out;
})()`;

async function contrastReport(page: Page): Promise<Array<{ text: string; ratio: number; large: boolean }>> {
  return page.evaluate(CONTRAST_SCRIPT) as Promise<Array<{ text: string; ratio: number; large: boolean }>>;
}

test('the egress dashboard in chromium: the seed path, a blocked request, live config, keyboard, contrast', { skip: browserSkipReason() }, async (t) => {
  const ext = await startExternalServices();
  t.after(() => ext.close());
  const mesh = await startTestMesh(t, { hostsFile: ext.hostsFile });
  await seedPath(mesh);
  for (let i = 0; i < REQUESTS; i++) {
    const r = await mesh.ok(['exec', '-n', 'curl', '--', 'curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://${DOCS_HOST}/en`]);
    assert.equal(r.stdout, '200');
  }

  // The credential: nothing without it.
  const printed = (await mesh.ok(['dashboard', '--no-open'])).stdout;
  const url = /^Dashboard: (\S+)$/m.exec(printed)?.[1];
  const login = /^Login link .*: (\S+)$/m.exec(printed)?.[1];
  assert.ok(url && login, printed);
  for (const path of ['', 'api/view', 'api/events', `api/proxy-config?id=x`]) {
    const res: Response = await fetch(`${url}${path}`);
    await res.body?.cancel();
    assert.equal(res.status, 401, `GET /dashboard/${path} without a credential`);
  }
  const wrong = await fetch(`${url}api/view`, { headers: { authorization: 'Bearer not-the-token' } });
  await wrong.body?.cancel();
  assert.equal(wrong.status, 401);
  // A page on another name that resolves here (DNS rebinding) gets nothing, even with the token.
  const rebound = await new Promise<number>((resolve, reject) => {
    const u = new URL(`${url}api/view`);
    const token = readFileSync(join(mesh.stateDir, 'token'), 'utf8').trim();
    get({ host: u.hostname, port: u.port, path: u.pathname, headers: { host: `attacker.example:${u.port}`, authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
  assert.equal(rebound, 421, 'another host name is refused');

  const context = await launchChromium(t);
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(login);
  assert.equal(page.url(), url, 'the login link lands on the dashboard, without the ticket');
  const cookies = await context.cookies();
  assert.equal(cookies.length, 1);
  assert.equal(cookies[0]!.httpOnly, true);
  assert.equal(cookies[0]!.sameSite, 'Strict');
  const again = await fetch(login, { redirect: 'manual' });
  await again.body?.cancel();
  assert.equal(again.status, 401, 'a login link works once');

  // The graph and its table show the seed's path with its counts.
  await page.evaluate(() => ((window as unknown as { loadedOnce: boolean }).loadedOnce = true));
  await page.locator('#paths-box summary').click();
  const pathRow = (from: string, to: string) =>
    page.locator('#paths tbody tr', { has: page.locator(`td:text-is("${from}")`) }).filter({ has: page.locator(`td:text-is("${to}")`) });
  await pathRow('curl/sidecar', 'gw-ns/egressgw')
    .locator('td:nth-child(4)', { hasText: String(REQUESTS) })
    .waitFor();
  await pathRow('gw-ns/egressgw', DOCS_HOST)
    .locator('td:nth-child(4)', { hasText: String(REQUESTS) })
    .waitFor();
  const graphEdges = await eventually(
    'the graph shows the seed path with its counts',
    async () => {
      const edges = (await page.evaluate(
        'window.egressDashboard.graph().cy.edges().map((e) => `${e.data("source")} -> ${e.data("target")}: ${e.data("label")}`)',
      )) as string[];
      return edges.some((e) => e.startsWith(`px:gw-ns/egressgw -> host:${DOCS_HOST}: `) && e.includes(`${REQUESTS} req`)) ? edges : undefined;
    },
    100,
  );
  assert.ok(
    graphEdges.some((e) => e.startsWith(`px:curl/sidecar -> px:gw-ns/egressgw: `) && e.includes(`${REQUESTS} req`)),
    graphEdges.join('\n'),
  );
  assert.ok(
    graphEdges.some((e) => e.startsWith(`px:gw-ns/egressgw -> host:${DOCS_HOST}: `) && e.includes(`${REQUESTS} req`) && /p50 [\d.]+ ms p99 [\d.]+ ms/.test(e)),
    graphEdges.join('\n'),
  );
  assert.ok(
    graphEdges.some((e) => e.startsWith('wl:curl/curl -> px:curl/sidecar')),
    'the workload sits before its sidecar',
  );
  const hostRow = page.locator(`#hosts tbody tr[data-host="${DOCS_HOST}"]`);
  await hostRow.waitFor();
  assert.match(await hostRow.innerText(), /curl\/egress-se\s+VirtualService curl\/egress-vs\s+Gateway gw-ns\/egress-gw/);
  await page.locator('#proxies tbody tr', { hasText: 'gw-ns' }).locator('text=SYNCED').waitFor();

  // A blocked request (REGISTRY_ONLY) shows in the list, without a reload.
  await mesh.ok(['apply', '-f', '-'], { input: istioResource(outboundPolicy('REGISTRY_ONLY')) });
  await eventually(
    'the sidecar blocks an unlisted host',
    async () => {
      const r = await mesh.outpost(['exec', '-n', 'curl', '--', 'curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://${UNLISTED_HOST}/`]);
      return r.stdout === '502' ? true : undefined;
    },
    50,
  );
  const blocked = page.locator('#recent li[data-problem="blocked"]', { hasText: UNLISTED_HOST }).first();
  await blocked.waitFor();
  assert.match(await blocked.innerText(), /block_all/);
  assert.match(await blocked.locator('code').innerText(), new RegExp(`"GET / HTTP/1.1" 502 .*"${UNLISTED_HOST.replace(/\./g, '\\.')}"`));

  // A config change shows up without a reload: a new ServiceEntry joins the host table.
  await mesh.ok(['apply', '-f', '-'], {
    input: `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: api-example
  namespace: curl
spec:
  hosts:
  - api.example.com
  ports:
  - number: 443
    name: tls
    protocol: TLS
  resolution: DNS
`,
  });
  await page.locator('#hosts tbody tr[data-host="api.example.com"]', { hasText: 'curl/api-example' }).waitFor();
  assert.equal(await page.evaluate(() => (window as unknown as { loadedOnce?: boolean }).loadedOnce), true, 'the page was not reloaded');

  // Keyboard: the tab order starts at the skip link, every stop shows its focus, and the host table sorts from the keyboard.
  // Start from the top of the document, as a fresh visit would.
  await page.evaluate(() => {
    document.body.tabIndex = -1;
    document.body.focus();
    document.body.removeAttribute('tabindex');
  });
  const stops: Array<{ what: string; outline: string }> = [];
  for (let i = 0; i < 8; i++) {
    await page.keyboard.press('Tab');
    stops.push(
      await page.evaluate(() => {
        const el = document.activeElement as HTMLElement;
        const cs = getComputedStyle(el);
        return {
          what: `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}:${(el.textContent ?? '').trim().slice(0, 30)}`,
          outline: `${cs.outlineStyle} ${cs.outlineWidth}`,
        };
      }),
    );
  }
  assert.match(stops[0]!.what, /^a:Skip to the external hosts/);
  assert.match(stops[1]!.what, /^button:Sign out/);
  for (const s of stops) assert.match(s.outline, /^solid [2-9]/, `focus is visible on ${s.what}`);
  const sortButton = page.locator('#hosts th button[data-key="requests"]');
  await sortButton.focus();
  await page.keyboard.press('Enter');
  assert.equal(await page.locator('#hosts th:has(button[data-key="requests"])').getAttribute('aria-sort'), 'ascending');
  await page.keyboard.press('Enter');
  assert.equal(await page.locator('#hosts th:has(button[data-key="requests"])').getAttribute('aria-sort'), 'descending');
  assert.equal(await page.locator('#hosts tbody tr').first().getAttribute('data-host'), DOCS_HOST, 'most requests first');
  await page.locator('#host-filter').fill('api.example');
  await eventually('the filter narrows the table', async () => ((await page.locator('#hosts tbody tr').count()) === 1 ? true : undefined), 30);
  await page.locator('#host-filter').fill('');

  // A proxy's config, opened from the keyboard.
  await page.locator('#proxies tbody tr', { hasText: 'gw-ns' }).locator('button').focus();
  await page.keyboard.press('Enter');
  await page.locator('#proxy-config', { hasText: `outbound|80||${DOCS_HOST}` }).waitFor();

  // Contrast: WCAG AA for every text on the page (4.5:1; 3:1 for large text).
  const contrast = await contrastReport(page);
  assert.ok(contrast.length > 20, 'texts were measured');
  const failing = contrast.filter((c) => c.ratio < (c.large ? 3 : 4.5));
  assert.deepEqual(failing, [], 'every text has enough contrast');
  t.diagnostic(`contrast: ${contrast.length} texts, lowest ratio ${Math.min(...contrast.map((c) => c.ratio)).toFixed(2)}`);

  await page.locator('#proxy-config').evaluate((el) => el.replaceChildren());
  await page.evaluate(() => window.scrollTo(0, 0));
  const shot = join(artifactsDir(), 'dashboard-live.png');
  await page.screenshot({ path: shot });
  if (process.env.OUTPOST_UPDATE_DOCS_SCREENSHOT === '1') {
    const docs = fileURLToPath(new URL('../../../docs/', import.meta.url));
    mkdirSync(docs, { recursive: true });
    copyFileSync(shot, join(docs, 'dashboard.png'));
  }
  assert.deepEqual(pageErrors, []);
});
