// The traffic graph, drawn by cytoscape.js (vendored from node_modules by the server). Its
// breadthfirst layout places workloads, sidecars, gateways and hosts in columns, left to right;
// the layout runs again only when nodes or edges come or go, otherwise labels change in place.
/* global cytoscape */
'use strict';

window.EgressGraph = (() => {
  const COLORS = {
    namespace: ['#f7f8fa', '#8a919c'], workload: ['#e6ecf7', '#4b5b7a'], sidecar: ['#dcefff', '#2f6aa3'], gateway: ['#fde7c8', '#9a5a00'],
    service: ['#ececec', '#666666'], host: ['#e2f3e5', '#2d7a3e'], blackhole: ['#f8d7d9', '#a4001d'], passthrough: ['#fff2d6', '#7a4a00'],
  };
  const fmt = (n) => (n === undefined ? '–' : Number.isInteger(n) ? String(n) : n.toFixed(2));

  function edgeLabel(e) {
    if (e.requests === 0 && e.connections === 0) return '';
    const parts = [`${fmt(e.rate)}/s`, `${e.requests + e.connections} req`];
    if (e.errors) parts.push(`${e.errors} err`);
    if (e.denials) parts.push(`${e.denials} denied`);
    if (e.p50Ms !== undefined) parts.push(`p50 ${fmt(e.p50Ms)} ms p99 ${fmt(e.p99Ms)} ms`);
    return parts.join(' · ');
  }

  /** Hosts beyond this many are folded into one node per sender: the table lists them all, and the graph stays readable and quick. */
  const MAX_HOSTS = 80;

  /** The busiest hosts as they are, the rest folded into `more:<sender>` with summed counts (no latency: quantiles do not add up). */
  function foldHosts(view) {
    const hostNodes = view.nodes.filter((n) => n.kind === 'host');
    if (hostNodes.length <= MAX_HOSTS) return view;
    const traffic = new Map();
    for (const e of view.edges) if (e.target.startsWith('host:')) traffic.set(e.target, (traffic.get(e.target) ?? 0) + e.requests + e.connections);
    const kept = new Set(hostNodes.map((n) => n.id).sort((a, b) => (traffic.get(b) ?? 0) - (traffic.get(a) ?? 0) || a.localeCompare(b)).slice(0, MAX_HOSTS));
    const nodes = view.nodes.filter((n) => n.kind !== 'host' || kept.has(n.id));
    const folded = new Map();
    const edges = [];
    for (const e of view.edges) {
      if (!e.target.startsWith('host:') || kept.has(e.target)) {
        edges.push(e);
        continue;
      }
      let f = folded.get(e.source);
      if (!f) folded.set(e.source, (f = { id: `${e.source}->more`, source: e.source, target: `more:${e.source}`, hosts: 0, requests: 0, connections: 0, rate: 0, errors: 0, denials: 0 }));
      f.hosts++;
      f.requests += e.requests;
      f.connections += e.connections;
      f.rate += e.rate;
      f.errors += e.errors;
      f.denials += e.denials;
    }
    for (const f of folded.values()) {
      nodes.push({ id: f.target, kind: 'host', label: `${f.hosts} more hosts (see the table)` });
      edges.push(f);
    }
    return { ...view, nodes, edges };
  }

  function elementsOf(view) {
    const shown = foldHosts(view);
    // Widths fixed in the data: a style function per node would run on every render.
    const nodes = shown.nodes.map((n) => ({ group: 'nodes', data: { id: n.id, label: n.label, kind: n.kind, w: Math.max(36, n.label.length * 6.6 + 8), ...(n.parent ? { parent: n.parent } : {}) } }));
    const edges = shown.edges.map((e) => ({ group: 'edges', data: { id: e.id, source: e.source, target: e.target, label: edgeLabel(e), bad: e.errors + e.denials > 0 ? 1 : 0 } }));
    return [...nodes, ...edges];
  }

  function create(container) {
    const style = [
      { selector: 'node', style: { label: 'data(label)', 'font-size': 11, color: '#1b1b1b', 'text-valign': 'center', 'text-halign': 'center', shape: 'round-rectangle', width: 'data(w)', height: 22, padding: 6, 'border-width': 1.5, 'text-wrap': 'none', 'min-zoomed-font-size': 6 } },
      ...Object.entries(COLORS).map(([kind, [bg, border]]) => ({ selector: `node[kind = "${kind}"]`, style: { 'background-color': bg, 'border-color': border } })),
      { selector: 'node[kind = "namespace"]', style: { 'text-valign': 'top', 'text-halign': 'center', 'font-weight': 'bold', 'border-style': 'dashed', padding: 10 } },
      { selector: 'edge', style: { width: 1.5, 'line-color': '#6b7280', 'target-arrow-color': '#6b7280', 'target-arrow-shape': 'triangle', 'curve-style': 'straight', label: 'data(label)', 'font-size': 9, color: '#1b1b1b', 'text-background-color': '#ffffff', 'text-background-opacity': 0.9, 'text-background-padding': 2, 'min-zoomed-font-size': 7 } },
      { selector: 'edge[bad = 1]', style: { 'line-color': '#a4001d', 'target-arrow-color': '#a4001d' } },
      { selector: ':selected', style: { 'border-width': 3, 'border-color': '#0b57d0', 'line-color': '#0b57d0' } },
    ];
    const cy = cytoscape({ container, style, textureOnViewport: true, hideEdgesOnViewport: true, hideLabelsOnViewport: true, motionBlur: false, pixelRatio: 1, minZoom: 0.05, maxZoom: 3 });
    let shape = '';

    function update(view) {
      const elements = elementsOf(view);
      const nextShape = elements.map((e) => e.data.id).sort().join('\n');
      if (nextShape !== shape) {
        shape = nextShape;
        cy.batch(() => {
          cy.elements().remove();
          cy.add(elements);
        });
        // Roots: where traffic starts (workloads, then proxies nothing points at).
        const roots = cy.nodes().filter((n) => !n.isParent() && n.incomers('edge').length === 0);
        cy.layout({
          name: 'breadthfirst', directed: true, roots, spacingFactor: 1.1, animate: false, avoidOverlap: true,
          // Columns left to right instead of rows top to bottom.
          transform: (_node, pos) => ({ x: pos.y * 2.2, y: pos.x * 0.6 }),
        }).run();
        cy.fit(undefined, 20);
        return;
      }
      // Only what changed: setting data restyles the element.
      cy.batch(() => {
        for (const e of elements) {
          const el = cy.getElementById(e.data.id);
          if (el.data('label') !== e.data.label || el.data('bad') !== e.data.bad) el.data(e.data);
        }
      });
    }
    return { cy, update };
  }
  return { create, edgeLabel };
})();
