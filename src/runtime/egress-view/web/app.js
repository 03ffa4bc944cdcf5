// The dashboard page: one EventSource for the egress view, tables rendered from it (text only,
// never HTML from the data), a sortable and filterable host table, and a proxy's config on demand.
/* global EgressGraph */
'use strict';

(() => {
  const $ = (sel) => document.querySelector(sel);
  const state = { view: undefined, sortKey: 'host', sortDir: 1, filter: '', openProxy: undefined, openVersion: undefined };
  let graph;

  /** An element with attributes and children (strings become text nodes). */
  function h(tag, attrs = {}, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) if (c !== undefined && c !== null) el.append(c instanceof Node ? c : String(c));
    return el;
  }
  const num = (n) => (n === undefined ? '–' : Number.isInteger(n) ? String(n) : n.toFixed(2));
  const td = (v, cls) => h('td', cls ? { class: cls } : {}, v);
  const nodeLabel = (view, id) => {
    const n = view.nodes.find((x) => x.id === id);
    if (!n) return id;
    const ns = n.parent ? `${n.parent.slice(3)}/` : '';
    return `${ns}${n.label}`;
  };

  function renderPaths(view) {
    const rows = view.edges.map((e) =>
      h(
        'tr',
        {},
        td(nodeLabel(view, e.source)),
        td(nodeLabel(view, e.target)),
        td(num(e.rate), 'num'),
        td(num(e.requests), 'num'),
        td(num(e.connections), 'num'),
        td(num(e.errors), 'num'),
        td(num(e.denials), 'num'),
        td(num(e.p50Ms), 'num'),
        td(num(e.p99Ms), 'num'),
      ),
    );
    $('#paths tbody').replaceChildren(...rows);
  }

  function hostValue(row, key) {
    const v = row[key];
    return Array.isArray(v) ? v.join(', ') : v;
  }

  function renderHosts() {
    const view = state.view;
    if (!view) return;
    const f = state.filter.toLowerCase();
    const rows = view.hosts.filter((r) => !f || [r.host, ...r.serviceEntries, ...r.routes, ...r.gateways].some((s) => s.toLowerCase().includes(f)));
    const k = state.sortKey;
    rows.sort((a, b) => {
      const x = hostValue(a, k) ?? -1;
      const y = hostValue(b, k) ?? -1;
      const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
      return c * state.sortDir || a.host.localeCompare(b.host);
    });
    $('#hosts tbody').replaceChildren(
      ...rows.map((r) =>
        h(
          'tr',
          { 'data-host': r.host },
          h('th', { scope: 'row' }, r.host),
          td(r.ports.join(', ')),
          td(r.serviceEntries.join(', ') || '–'),
          td(r.routes.join(', ') || '–'),
          td(r.gateways.join(', ') || '–'),
          td(num(r.rate), 'num'),
          td(num(r.requests + r.connections), 'num'),
          td(num(r.errors), 'num'),
          td(num(r.denials), 'num'),
          td(num(r.p50Ms), 'num'),
          td(num(r.p99Ms), 'num'),
        ),
      ),
    );
    $('#host-count').textContent = `${rows.length} of ${view.hosts.length} hosts`;
  }

  function renderRecent(view) {
    const items = view.recent
      .slice(0, 50)
      .map((r) =>
        h(
          'li',
          { 'data-problem': r.problem },
          h('span', { class: `badge ${r.problem === 'failed' ? 'b-warn' : 'b-bad'}` }, r.problem),
          ' ',
          `${new Date(r.time).toLocaleTimeString()} `,
          h('strong', {}, r.authority),
          ` at ${r.proxy}: ${r.code} ${r.flags} `,
          h('span', { class: 'muted' }, `${r.details}${r.route !== '-' ? `, route ${r.route}` : ''}${r.cluster !== '-' ? `, cluster ${r.cluster}` : ''}`),
          h('code', {}, r.line),
        ),
      );
    $('#recent').replaceChildren(...(items.length ? items : [h('li', {}, 'None so far.')]));
  }

  function syncBadge(p) {
    const cls = p.sync === 'SYNCED' ? 'b-ok' : p.sync === 'STALE' ? 'b-warn' : 'b-bad';
    return h('span', { class: `badge ${cls}`, title: p.nackError ?? '' }, p.sync);
  }

  function renderProxies(view) {
    $('#proxies tbody').replaceChildren(
      ...view.proxies.map((p) =>
        h(
          'tr',
          { 'data-proxy': p.id },
          h(
            'th',
            { scope: 'row' },
            h('button', { type: 'button', 'aria-expanded': state.openProxy === p.id ? 'true' : 'false', onclick: () => openProxy(p.id) }, p.id),
          ),
          td(p.role === 'router' ? 'gateway' : 'sidecar'),
          td(h('span', { class: `badge ${p.ready ? 'b-ok' : 'b-bad'}` }, p.ready ? 'ready' : p.state)),
          h(
            'td',
            {},
            syncBadge(p),
            p.nackError ? h('div', { class: 'muted' }, p.nackError) : undefined,
            p.scrapeError ? h('div', { class: 'muted' }, `metrics: ${p.scrapeError}`) : undefined,
          ),
          td(p.ackedVersion ? p.ackedVersion.slice(0, 12) : '–'),
        ),
      ),
    );
    const open = view.proxies.find((p) => p.id === state.openProxy);
    // The open config follows the proxy: fetched again when it got a new version.
    if (open && open.sentVersion !== state.openVersion) void openProxy(open.id, true);
  }

  async function openProxy(id, refresh = false) {
    if (!refresh && state.openProxy === id) {
      state.openProxy = undefined;
      $('#proxy-config').replaceChildren();
      if (state.view) renderProxies(state.view);
      return;
    }
    state.openProxy = id;
    state.openVersion = state.view?.proxies.find((p) => p.id === id)?.sentVersion;
    const res = await fetch(`api/proxy-config?id=${encodeURIComponent(id)}`, { headers: { accept: 'application/json' } });
    if (!res.ok) {
      $('#proxy-config').replaceChildren(h('p', {}, `Config of ${id}: HTTP ${res.status}`));
      return;
    }
    const { config } = await res.json();
    $('#proxy-config').replaceChildren(renderConfig(id, config));
    if (state.view) renderProxies(state.view);
  }

  function renderConfig(id, c) {
    const listeners = h(
      'table',
      {},
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'Listener'),
          h('th', { scope: 'col' }, 'Address'),
          h('th', { scope: 'col' }, 'Protocol'),
          h('th', { scope: 'col' }, 'Hands to'),
        ),
      ),
      h(
        'tbody',
        {},
        c.listeners.map((l) =>
          h(
            'tr',
            {},
            td(l.name),
            td(`${l.address}:${l.port}${l.bindToPort ? '' : ' (not bound)'}`),
            td(l.protocol),
            td(l.routeTable ?? l.cluster ?? (l.chains ? `${l.chains.length} SNI chains` : '–')),
          ),
        ),
      ),
    );
    const routes = h(
      'table',
      {},
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'Route table'),
          h('th', { scope: 'col' }, 'Virtual host'),
          h('th', { scope: 'col' }, 'Domains'),
          h('th', { scope: 'col' }, 'Routes to'),
        ),
      ),
      h(
        'tbody',
        {},
        c.routeTables.flatMap((rt) =>
          rt.virtualHosts.map((vh) =>
            h(
              'tr',
              {},
              td(rt.name),
              td(vh.name),
              td(vh.domains.join(', ')),
              td(
                vh.routes
                  .map((r) =>
                    r.action.kind === 'forward'
                      ? r.action.clusters.map((w) => w.cluster).join(' + ')
                      : r.action.kind === 'directResponse'
                        ? `direct ${r.action.status}`
                        : r.action.kind,
                  )
                  .join('; '),
              ),
            ),
          ),
        ),
      ),
    );
    const clusters = h(
      'table',
      {},
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'Cluster'),
          h('th', { scope: 'col' }, 'Type'),
          h('th', { scope: 'col' }, 'Endpoints'),
          h('th', { scope: 'col' }, 'TLS'),
        ),
      ),
      h(
        'tbody',
        {},
        c.clusters.map((cl) =>
          h(
            'tr',
            {},
            td(cl.name),
            td(cl.type),
            td(cl.endpoints.map((e) => `${e.address}:${e.port}`).join(', ') || '–'),
            td(cl.tls ? (cl.tls.mode ?? 'yes') : '–'),
          ),
        ),
      ),
    );
    return h(
      'section',
      { 'aria-label': `Config of ${id}` },
      h('h3', {}, `Config of ${id} (version ${String(c.version).slice(0, 12)})`),
      h('h4', {}, 'Listeners'),
      listeners,
      h('h4', {}, 'Routes'),
      routes,
      h('h4', {}, 'Clusters and endpoints'),
      clusters,
    );
  }

  function renderObjects(view) {
    $('#objects tbody').replaceChildren(
      ...view.objects.map((o) =>
        h(
          'tr',
          { 'data-object': `${o.kind}/${o.namespace ?? ''}/${o.name}` },
          td(o.group ? `${o.kind} (${o.group})` : o.kind),
          h('th', { scope: 'row' }, o.namespace ? `${o.namespace}/${o.name}` : o.name),
          h(
            'td',
            {},
            o.conditions.length
              ? o.conditions.map((c) =>
                  h(
                    'div',
                    {},
                    h('span', { class: `badge ${c.status === 'True' ? 'b-ok' : 'b-bad'}` }, `${c.type}=${c.status}`),
                    ` ${c.reason ?? ''}${c.scope ? ` (${c.scope})` : ''}`,
                    c.message ? h('div', { class: 'muted' }, c.message) : undefined,
                  ),
                )
              : '–',
          ),
          h(
            'td',
            {},
            o.findings.length
              ? o.findings.map((f) =>
                  h('div', {}, h('span', { class: `badge ${f.level === 'Error' ? 'b-bad' : 'b-warn'}` }, `${f.level} ${f.code}`), ` ${f.message}`),
                )
              : '–',
          ),
        ),
      ),
    );
  }

  function render(view) {
    state.view = view;
    if (graph) graph.update(view);
    renderPaths(view);
    renderHosts();
    renderRecent(view);
    renderProxies(view);
    renderObjects(view);
    $('#live').textContent = `live · updated ${new Date(view.generatedAt).toLocaleTimeString()} · store revision ${view.revision}`;
    document.body.dataset.revision = view.revision;
  }

  function setSort(key) {
    state.sortDir = state.sortKey === key ? -state.sortDir : 1;
    state.sortKey = key;
    for (const th of document.querySelectorAll('#hosts th')) {
      const b = th.querySelector('button');
      if (!b) continue;
      th.setAttribute('aria-sort', b.dataset.key === key ? (state.sortDir > 0 ? 'ascending' : 'descending') : 'none');
    }
    renderHosts();
  }

  function start() {
    try {
      graph = EgressGraph.create($('#graph'));
    } catch (err) {
      $('#graph').textContent = `The graph could not be drawn: ${err.message}`;
    }
    for (const b of document.querySelectorAll('#hosts th button')) b.addEventListener('click', () => setSort(b.dataset.key));
    let pending;
    $('#host-filter').addEventListener('input', (e) => {
      state.filter = e.target.value;
      clearTimeout(pending);
      pending = setTimeout(renderHosts, 80);
    });
    const es = new EventSource('api/events');
    es.addEventListener('view', (ev) => render(JSON.parse(ev.data)));
    es.addEventListener('error', () => {
      $('#live').textContent = 'offline: reconnecting…';
    });
    window.egressDashboard = { render, state, graph: () => graph };
  }
  start();
})();
