// The traffic graph: drawn by cytoscape.js, laid out by elkjs (ELK's layered algorithm, left to
// right, namespaces as boxes around their workloads and proxies) in a web worker, so the page
// stays responsive while a large graph is laid out. Both are vendored from node_modules by the
// server. The layout runs again only when nodes or edges come or go; otherwise labels change in place.
/* global cytoscape, ELK */
'use strict';

window.EgressGraph = (() => {
  const COLORS = {
    namespace: ['#f7f8fa', '#8a919c'],
    workload: ['#e6ecf7', '#4b5b7a'],
    sidecar: ['#dcefff', '#2f6aa3'],
    gateway: ['#fde7c8', '#9a5a00'],
    service: ['#ececec', '#666666'],
    host: ['#e2f3e5', '#2d7a3e'],
    blackhole: ['#f8d7d9', '#a4001d'],
    passthrough: ['#fff2d6', '#7a4a00'],
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
    const kept = new Set(
      hostNodes
        .map((n) => n.id)
        .sort((a, b) => (traffic.get(b) ?? 0) - (traffic.get(a) ?? 0) || a.localeCompare(b))
        .slice(0, MAX_HOSTS),
    );
    const nodes = view.nodes.filter((n) => n.kind !== 'host' || kept.has(n.id));
    const folded = new Map();
    const edges = [];
    for (const e of view.edges) {
      if (!e.target.startsWith('host:') || kept.has(e.target)) {
        edges.push(e);
        continue;
      }
      let f = folded.get(e.source);
      if (!f)
        folded.set(
          e.source,
          (f = {
            id: `${e.source}->more`,
            source: e.source,
            target: `more:${e.source}`,
            hosts: 0,
            requests: 0,
            connections: 0,
            rate: 0,
            errors: 0,
            denials: 0,
          }),
        );
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
    const nodes = shown.nodes.map((n) => ({
      group: 'nodes',
      data: { id: n.id, label: n.label, kind: n.kind, w: Math.max(36, n.label.length * 6.6 + 8), ...(n.parent ? { parent: n.parent } : {}) },
    }));
    const edges = shown.edges.map((e) => ({
      group: 'edges',
      data: { id: e.id, source: e.source, target: e.target, label: edgeLabel(e), bad: e.errors + e.denials > 0 ? 1 : 0 },
    }));
    return [...nodes, ...edges];
  }

  const elk = new ELK({ workerUrl: 'assets/vendor/elk-worker.min.js' });
  const NODE_H = 26;

  /** Centre positions for the leaf nodes, from ELK (which gives top-left corners relative to the parent box). */
  async function elkPositions(elements) {
    const nodes = elements.filter((e) => e.group === 'nodes');
    const parents = new Set(nodes.map((n) => n.data.parent).filter(Boolean));
    const byId = new Map();
    const root = {
      id: 'root',
      children: [],
      edges: [],
      layoutOptions: {
        'elk.algorithm': 'layered',
        'elk.direction': 'RIGHT',
        'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
        'elk.layered.spacing.nodeNodeBetweenLayers': '230',
        'elk.spacing.nodeNode': '18',
        'elk.padding': '[top=28,left=12,bottom=12,right=12]',
        'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
      },
    };
    for (const n of nodes)
      byId.set(
        n.data.id,
        parents.has(n.data.id)
          ? { id: n.data.id, children: [], layoutOptions: { 'elk.padding': '[top=28,left=12,bottom=12,right=12]' } }
          : { id: n.data.id, width: n.data.w, height: NODE_H },
      );
    for (const n of nodes) (n.data.parent && byId.get(n.data.parent) ? byId.get(n.data.parent).children : root.children).push(byId.get(n.data.id));
    for (const e of elements) if (e.group === 'edges') root.edges.push({ id: e.data.id, sources: [e.data.source], targets: [e.data.target] });
    const laid = await elk.layout(root);
    const out = new Map();
    const walk = (node, ox, oy) => {
      for (const c of node.children ?? []) {
        const x = ox + (c.x ?? 0);
        const y = oy + (c.y ?? 0);
        if (c.children && c.children.length) walk(c, x, y);
        else out.set(c.id, { x: x + (c.width ?? 0) / 2, y: y + (c.height ?? 0) / 2 });
      }
    };
    walk(laid, 0, 0);
    return out;
  }

  function create(container) {
    const style = [
      {
        selector: 'node',
        style: {
          label: 'data(label)',
          'font-size': 11,
          color: '#1b1b1b',
          'text-valign': 'center',
          'text-halign': 'center',
          shape: 'round-rectangle',
          width: 'data(w)',
          height: NODE_H - 4,
          'border-width': 1.5,
          'text-wrap': 'none',
          'min-zoomed-font-size': 6,
        },
      },
      ...Object.entries(COLORS).map(([kind, [bg, border]]) => ({
        selector: `node[kind = "${kind}"]`,
        style: { 'background-color': bg, 'border-color': border },
      })),
      {
        selector: 'node[kind = "namespace"]',
        style: { 'text-valign': 'top', 'text-halign': 'center', 'font-weight': 'bold', 'border-style': 'dashed', padding: 10 },
      },
      {
        selector: 'edge',
        style: {
          width: 1.5,
          'line-color': '#6b7280',
          'target-arrow-color': '#6b7280',
          'target-arrow-shape': 'triangle',
          'curve-style': 'straight',
          label: 'data(label)',
          'font-size': 9,
          color: '#1b1b1b',
          'text-background-color': '#ffffff',
          'text-background-opacity': 0.9,
          'text-background-padding': 2,
          'min-zoomed-font-size': 7,
        },
      },
      { selector: 'edge[bad = 1]', style: { 'line-color': '#a4001d', 'target-arrow-color': '#a4001d' } },
      { selector: ':selected', style: { 'border-width': 3, 'border-color': '#0b57d0', 'line-color': '#0b57d0' } },
    ];
    const cy = cytoscape({
      container,
      style,
      textureOnViewport: true,
      hideEdgesOnViewport: true,
      hideLabelsOnViewport: true,
      motionBlur: false,
      pixelRatio: 1,
      minZoom: 0.05,
      maxZoom: 3,
    });
    let shape = '';
    let latest = [];
    let seq = 0;

    function apply(elements) {
      cy.batch(() => {
        for (const e of elements) {
          const el = cy.getElementById(e.data.id);
          // Only what changed: setting data restyles the element.
          if (el.nonempty() && (el.data('label') !== e.data.label || el.data('bad') !== e.data.bad)) el.data(e.data);
        }
      });
    }

    function update(view) {
      const elements = elementsOf(view);
      latest = elements;
      const nextShape = elements
        .map((e) => e.data.id)
        .sort()
        .join('\n');
      if (nextShape === shape) {
        if (container.dataset.layout === 'done') apply(elements);
        return;
      }
      shape = nextShape;
      const mine = ++seq;
      container.dataset.layout = 'running';
      elkPositions(elements)
        .then((positions) => {
          if (mine !== seq) return;
          cy.batch(() => {
            cy.elements().remove();
            cy.add(latest);
            for (const [id, p] of positions) cy.getElementById(id).position(p);
          });
          cy.fit(undefined, 20);
          container.dataset.layout = 'done';
        })
        .catch((err) => {
          container.dataset.layout = 'failed';
          console.warn(`graph layout failed: ${err && err.message}`);
        });
    }
    return { cy, update };
  }
  return { create, edgeLabel, foldHosts };
})();
