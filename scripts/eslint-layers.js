// ESLint rule `outpost/layers`: the arrows of DESIGN.md ("Layering, enforced") as a rule. Every
// import (static, dynamic with a literal, re-export) that leaves a file's room is resolved to the
// room it lands in and checked against what that room may not reach.
import { dirname, relative, resolve, sep } from 'node:path';

/**
 * Room → the rooms it must not import, and why (the message a violation prints). A room is a
 * folder under src/; paths under it are matched by their first segment.
 */
export const FORBIDDEN = {
  // The data plane sees only the contract: ProxyConfig (and the distribution client beside it).
  dataplane: {
    rooms: ['api', 'analyze', 'store', 'apiserver', 'controlplane', 'runtime', 'cli'],
    why: 'the data plane imports only src/proxyconfig and itself',
  },
  // The control plane computes config; it does not run processes, serve the API or print.
  controlplane: {
    rooms: ['cli', 'runtime', 'apiserver', 'dataplane'],
    why: 'the control plane does not import the CLI, the runtime, the API server or the data plane',
  },
  // Resource kinds know nothing of what consumes them.
  api: { rooms: ['controlplane', 'dataplane', 'runtime', 'cli', 'apiserver', 'store', 'analyze'], why: 'src/api imports no consumer of its kinds' },
  // The contract between control plane and proxies depends on neither side.
  proxyconfig: { rooms: ['controlplane', 'dataplane', 'runtime', 'cli', 'apiserver'], why: 'src/proxyconfig depends on neither side of the contract' },
  store: {
    rooms: ['controlplane', 'dataplane', 'runtime', 'cli', 'apiserver', 'analyze'],
    why: 'the store interprets no specs and serves no one in particular',
  },
  apiserver: { rooms: ['controlplane', 'dataplane', 'runtime', 'cli'], why: 'the API server serves the store, nothing more' },
  analyze: { rooms: ['dataplane', 'runtime', 'cli', 'apiserver'], why: 'the analyzers read resources and mutate nothing' },
  runtime: { rooms: ['cli'], why: 'nothing imports src/cli' },
};

/** The room (first folder under src/) of an absolute path, or undefined outside src/. */
function roomOf(srcDir, file) {
  const rel = relative(srcDir, file);
  if (rel.startsWith('..') || rel === '') return undefined;
  return rel.split(sep)[0];
}

/** @type {import('eslint').Rule.RuleModule} */
const layers = {
  meta: {
    type: 'problem',
    docs: { description: "imports follow DESIGN.md's layering (src/<room>/ → the rooms it may use)" },
    schema: [],
    messages: { forbidden: '{{from}} must not import {{to}} ({{why}}): {{source}}', cli: 'nothing imports src/cli (only the command line itself): {{source}}' },
  },
  create(context) {
    const file = context.filename;
    const srcDir = resolve(context.cwd, 'src');
    const from = roomOf(srcDir, file);
    const check = (node, source) => {
      if (typeof source !== 'string' || !source.startsWith('.')) return;
      const to = roomOf(srcDir, resolve(dirname(file), source));
      if (!to || to === from) return;
      // Tests, bench and scripts (outside src/) may import any room; inside src/, the table decides.
      if (from === undefined) return;
      if (to === 'cli') context.report({ node, messageId: 'cli', data: { source } });
      else if (FORBIDDEN[from]?.rooms.includes(to))
        context.report({ node, messageId: 'forbidden', data: { from: `src/${from}`, to: `src/${to}`, why: FORBIDDEN[from].why, source } });
    };
    return {
      ImportDeclaration: (node) => check(node.source, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node.source, node.source.value),
      ExportAllDeclaration: (node) => check(node.source, node.source.value),
      ImportExpression: (node) => node.source.type === 'Literal' && check(node.source, node.source.value),
    };
  },
};

export default { rules: { layers } };
