// Capture with real traffic in a pod's network namespace, IPv4 and IPv6: a test-made "node"
// namespace holds the stand-ins for external hosts; a pod namespace is joined to it by a veth pair
// with IPv4 and ULA IPv6 (fd00::/8) addresses; the pod gets the nftables table captureRuleset
// writes and a sidecar (`outpost proxy --config`, group 1337) with the config the control plane
// computes for it. Under REGISTRY_ONLY: IPv6 TCP is captured as IPv4 is (an unregistered host gets
// 502 from the sidecar); ServiceEntry hosts resolve to their IPv6 VIPs (AAAA) and are reached
// through them; DNS to any resolver address on port 53 (UDP, TCP, both families) is answered by the
// sidecar, other UDP is untouched; connections to a ServiceEntry's explicit addresses reach that
// entry's listener, routed by destination address; a request whose Host is a VIP matches its
// ServiceEntry; inbound IPv6 to the app's port passes the sidecar; an IPv6 excludeOutboundIPRanges
// lets that range past the sidecar.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { KubeObject } from '../../../src/api/object.js';
import type { ProxyIdentity } from '../../../src/proxyconfig/types.js';
import { AUTO_ALLOCATE_RANGE, AUTO_ALLOCATE_RANGE_V6, PROXY_GID } from '../../../src/proxyconfig/naming.js';
import { snapshotFromObjects } from '../../../src/controlplane/snapshot.js';
import { translate } from '../../../src/controlplane/translate/index.js';
import { addCaptureRoutes, applyCaptureRuleset, captureRuleset, parseCaptureAnnotations, podIPv6 } from '../../../src/runtime/pods/capture.js';
import { makeTestNetns, netnsSkipReason } from '../../helpers/netns.js';

const skip = netnsSkipReason();
const NODE = process.execPath;
const OUTPOST = fileURLToPath(new URL('../../../bin/outpost', import.meta.url));

const POD4 = '198.18.250.2';
const GW4 = '198.18.250.1';
const POD6 = 'fd00:250::2';
const GW6 = 'fd00:250::1';
const SERVICE_RANGE = '198.19.250.0/24';
/** An external web server (both families) and TCP servers on ServiceEntries' explicit addresses. */
const EXT4 = '203.0.113.30';
const EXT6 = 'fd00:ee::30';
const FIXED = '203.0.113.40';
const OTHER = '203.0.113.41';
const FIXED6 = 'fd00:ee::40';

function se(name: string, spec: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'ServiceEntry',
    metadata: { name, namespace: 'curl', creationTimestamp: '2024-01-01T00:00:00Z' },
    spec: { location: 'MESH_EXTERNAL', ...spec },
  };
}

function meshObjects(accessLog: string): KubeObject[] {
  return [
    {
      apiVersion: 'sailoperator.io/v1',
      kind: 'Istio',
      metadata: { name: 'default' },
      spec: { namespace: 'istio-system', values: { meshConfig: { accessLogFile: accessLog, outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } } } },
    },
    se('web', { hosts: ['web.example.com'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], resolution: 'DNS' }),
    se('fixed', {
      hosts: ['fixed.example.com'],
      addresses: [FIXED],
      ports: [{ number: 9000, name: 'tcp', protocol: 'TCP' }],
      resolution: 'STATIC',
      endpoints: [{ address: FIXED }],
    }),
    se('other', {
      hosts: ['other.example.com'],
      addresses: [`${OTHER}/32`],
      ports: [{ number: 9000, name: 'tcp', protocol: 'TCP' }],
      resolution: 'STATIC',
      endpoints: [{ address: OTHER }],
    }),
    se('six', { hosts: ['six.example.com'], addresses: [FIXED6], ports: [{ number: 9000, name: 'tcp', protocol: 'TCP' }], resolution: 'NONE' }),
    // The pod's own app port, for inbound capture.
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'curl', namespace: 'curl' },
      spec: { clusterIP: '198.19.250.5', selector: { app: 'curl' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    },
  ];
}

/** Runs `fn` (an async function's source, given `lib`) in a node inside the pod, as root (group 0: captured); returns what it returns. */
async function inPod(pod: string, fn: string): Promise<unknown> {
  const lib = `
    const net = require('net'), http = require('http'), dgram = require('dgram'), dns = require('dns');
    const lib = {
      get: (host, port, path, headers = {}) => new Promise((resolve) => {
        const q = http.get({ host, port, path, headers, timeout: 8000 }, (r) => { let b = ''; r.on('data', (c) => (b += c)); r.on('end', () => resolve((r.statusCode + ' ' + b).trim())); });
        q.on('timeout', () => q.destroy(new Error('timeout'))); q.on('error', (e) => resolve('error ' + (e.code || e.message)));
      }),
      tcp: (host, port, data) => new Promise((resolve) => {
        const s = net.connect({ host, port }); let b = '';
        s.setTimeout(8000, () => s.destroy(new Error('timeout')));
        s.on('connect', () => s.write(data)); s.on('data', (c) => { b += c; s.end(); });
        s.on('close', () => resolve(b || 'closed')); s.on('error', (e) => { b = b || 'error ' + (e.code || e.message); });
      }),
      udp: (host, port, data) => new Promise((resolve) => {
        const s = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
        const t = setTimeout(() => { s.close(); resolve('no answer'); }, 5000);
        s.on('message', (m) => { clearTimeout(t); s.close(); resolve(String(m)); });
        s.send(data, port, host);
      }),
      resolve: async (server, name, type, tcp = false) => {
        const r = new dns.promises.Resolver({ timeout: 4000, tries: 1 });
        r.setServers([net.isIPv6(server) ? '[' + server + ']:53' : server + ':53']);
        try { return (await (type === 'AAAA' ? r.resolve6(name) : r.resolve4(name))).sort(); } catch (e) { return 'error ' + e.code; }
      },
    };`;
  const script = `${lib}\n(${fn})(lib).then((v) => process.stdout.write(JSON.stringify(v)), (e) => { console.error(e); process.exit(1); });`;
  const out = execFileSync('nsenter', [`--net=/run/netns/${pod}`, NODE, '-e', script], { encoding: 'utf8', timeout: 60_000 });
  return JSON.parse(out) as unknown;
}

/** Starts a process inside a namespace; resolves once it printed `ready` (or a line matching `until`). */
async function startIn(netns: string, args: string[], until: RegExp, opts: { gid?: number } = {}): Promise<{ child: ChildProcess; lines: string[] }> {
  const child = spawn('nsenter', [`--net=/run/netns/${netns}`, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(opts.gid !== undefined ? { gid: opts.gid } : {}),
  });
  const lines: string[] = [];
  await new Promise<void>((resolve, reject) => {
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (l) => {
        lines.push(l);
        if (until.test(l)) resolve();
      });
    }
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited (${code}):\n${lines.join('\n')}`)));
    setTimeout(() => reject(new Error(`${args.join(' ')}: no line matching ${String(until)} in 20 s:\n${lines.join('\n')}`)), 20_000).unref();
  }).catch(async (err: unknown) => {
    await stop(child);
    throw err;
  });
  return { child, lines };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function eventually<T>(what: string, fn: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test(
  'capture in a dual-stack pod: IPv6 and IPv4 TCP, DNS over UDP/TCP, other UDP untouched, explicit addresses, VIP hosts',
  { skip, timeout: 120_000 },
  async (t) => {
    const node = makeTestNetns();
    const pod = `${node.name}-pod`;
    const tmp = mkdtempSync(join(tmpdir(), 'outpost-capture-netns-'));
    const stopAll: ChildProcess[] = [];
    t.after(async () => {
      for (const c of stopAll.reverse()) await stop(c);
      try {
        execFileSync('ip', ['netns', 'del', pod], { stdio: 'ignore' });
      } catch {
        // Not made.
      }
      node.remove();
      rmSync(tmp, { recursive: true, force: true });
    });

    // The pod: a veth pair to the node, IPv4 and IPv6 (nodad: usable at once), default routes to the node.
    execFileSync('ip', ['netns', 'add', pod]);
    const ipn = (ns: string, args: string[]) => execFileSync('ip', ['-n', ns, ...args]);
    ipn(node.name, ['link', 'add', 'vpod', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod]);
    ipn(node.name, ['addr', 'add', `${GW4}/24`, 'dev', 'vpod']);
    ipn(node.name, ['addr', 'add', `${GW6}/64`, 'dev', 'vpod', 'nodad']);
    for (const a of [`${EXT4}/32`, `${FIXED}/32`, `${OTHER}/32`]) ipn(node.name, ['addr', 'add', a, 'dev', 'vpod']);
    for (const a of [`${EXT6}/128`, `${FIXED6}/128`]) ipn(node.name, ['addr', 'add', a, 'dev', 'vpod', 'nodad']);
    ipn(node.name, ['link', 'set', 'vpod', 'up']);
    ipn(pod, ['link', 'set', 'lo', 'up']);
    ipn(pod, ['addr', 'add', `${POD4}/24`, 'dev', 'eth0']);
    ipn(pod, ['addr', 'add', `${POD6}/64`, 'dev', 'eth0', 'nodad']);
    ipn(pod, ['link', 'set', 'eth0', 'up']);
    ipn(pod, ['route', 'add', 'default', 'via', GW4]);
    ipn(pod, ['-6', 'route', 'add', 'default', 'via', GW6]);
    assert.equal(await podIPv6(pod), POD6);

    // The outside: a web server on both families, TCP servers that say which address they are, UDP echo.
    const outside = `
    const net = require('net'), http = require('http'), dgram = require('dgram');
    let n = 0; const want = 8; const up = () => { if (++n === want) console.log('ready'); };
    for (const a of [${JSON.stringify(EXT4)}, ${JSON.stringify(EXT6)}]) {
      http.createServer((q, r) => { console.log('http ' + q.headers.host + ' from ' + q.socket.remoteAddress); r.end('ext ok'); }).listen(80, a, up);
    }
    for (const a of [${JSON.stringify(FIXED)}, ${JSON.stringify(OTHER)}, ${JSON.stringify(FIXED6)}]) {
      net.createServer((s) => s.on('data', (b) => s.end(a + ' got ' + b))).listen(9000, a, up);
    }
    net.createServer((s) => s.end('reached')).listen(7777, ${JSON.stringify(EXT6)}, up);
    for (const [a, type] of [[${JSON.stringify(GW4)}, 'udp4'], [${JSON.stringify(GW6)}, 'udp6']]) {
      const s = dgram.createSocket(type);
      s.on('message', (m, r) => s.send('udp from ' + r.address + ': ' + m, r.port, r.address));
      s.bind(7000, a, up);
    }
    process.stdin.resume(); process.stdin.on('end', () => process.exit(0));`;
    const ext = await startIn(node.name, [NODE, '-e', outside], /^ready$/);
    stopAll.push(ext.child);

    // The sidecar, with the config the control plane computes for a captured dual-stack pod.
    const accessLog = join(tmp, 'access.log');
    const objects = meshObjects(accessLog);
    const identity: ProxyIdentity = {
      id: 'curl-1.curl',
      role: 'sidecar',
      namespace: 'curl',
      workload: 'curl',
      ip: POD4,
      ip6: POD6,
      labels: { app: 'curl' },
      capture: true,
    };
    const cfg = translate(snapshotFromObjects(objects), identity);
    const configFile = join(tmp, 'config.json');
    writeFileSync(configFile, JSON.stringify(cfg));
    const hosts = join(tmp, 'hosts');
    writeFileSync(hosts, `${EXT4} web.example.com\n`);
    await addCaptureRoutes(pod, SERVICE_RANGE, true);
    const rules = (annotations: Record<string, string>) =>
      captureRuleset({
        capture: cfg.capture!,
        podIP: POD4,
        podIP6: POD6,
        localRanges: [AUTO_ALLOCATE_RANGE, AUTO_ALLOCATE_RANGE_V6, SERVICE_RANGE],
        policy: cfg.mesh.outboundTrafficPolicy,
        annotations: parseCaptureAnnotations(annotations),
      });
    await applyCaptureRuleset(pod, rules({}));
    const sidecar = await startIn(
      pod,
      [NODE, OUTPOST, 'proxy', '--config', configFile, '--hosts-file', hosts, '--admin', '127.0.0.1:15000'],
      /dns proxy listening on \[::1\]:15053/,
      { gid: PROXY_GID },
    );
    stopAll.push(sidecar.child);
    const logged = (needle: string): Promise<string> =>
      eventually(`the sidecar's access log to show ${needle}`, () => {
        const text = existsSync(accessLog) ? readFileSync(accessLog, 'utf8') : '';
        return text.split('\n').find((l) => l.includes(needle));
      });

    const [vip4] = cfg.capture!.dns.find((d) => d.name === 'web.example.com')!.addresses as [string, string];
    const vip6 = cfg.capture!.dns.find((d) => d.name === 'web.example.com')!.addresses.find((a) => a.includes(':'))!;

    // DNS to resolver addresses that do not exist, both families: the sidecar answers (UDP here, TCP below).
    const answers = (await inPod(
      pod,
      `async (lib) => [
      await lib.resolve('192.0.2.53', 'web.example.com', 'A'),
      await lib.resolve('192.0.2.53', 'web.example.com', 'AAAA'),
      await lib.resolve('fd00:ee::53', 'web.example.com', 'AAAA'),
      await lib.resolve('fd00:ee::53', 'six.example.com', 'AAAA'),
      await lib.resolve('fd00:ee::53', 'six.example.com', 'A'),
    ]`,
    )) as unknown[];
    // A known name with no address of the family: NOERROR and no records (c-ares says ENODATA).
    assert.deepEqual(answers, [[vip4], [vip6], [vip6], [FIXED6], 'error ENODATA']);
    const overTcp = (await inPod(
      pod,
      `(lib) => new Promise((resolve) => {
      const q = Buffer.from([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 119, 101, 98, 7, 101, 120, 97, 109, 112, 108, 101, 3, 99, 111, 109, 0, 0, 28, 0, 1]);
      const s = require('net').connect(53, 'fd00:ee::53', () => s.write(Buffer.concat([Buffer.from([0, q.length]), q])));
      let b = Buffer.alloc(0);
      s.on('data', (c) => { b = Buffer.concat([b, c]); if (b.length >= 2 && b.length >= 2 + b.readUInt16BE(0)) { s.destroy(); resolve(b.subarray(b.length - 16).toString('hex')); } });
      s.on('error', (e) => resolve('error ' + e.code));
    })`,
    )) as string;
    // The answer's last 16 bytes: the AAAA record's address.
    assert.equal(overTcp, `20010002${'0000'.repeat(4)}f0f0${vip6.split(':').pop()!.padStart(4, '0')}`, 'AAAA over TCP to port 53 of an IPv6 address');

    // Other UDP is not captured: it reaches the node, from the pod's own address, both families.
    assert.deepEqual(
      await inPod(pod, `async (lib) => [await lib.udp(${JSON.stringify(GW4)}, 7000, 'hi'), await lib.udp(${JSON.stringify(GW6)}, 7000, 'hi')]`),
      [`udp from ${POD4}: hi`, `udp from ${POD6}: hi`],
    );

    // IPv6 TCP is captured: an unregistered host gets 502 from the sidecar (it would answer 200 itself).
    assert.deepEqual(await inPod(pod, `async (lib) => [await lib.get(${JSON.stringify(EXT6)}, 80, '/'), await lib.get(${JSON.stringify(EXT4)}, 80, '/')]`), [
      '502',
      '502',
    ]);
    await logged('block_all');
    // The ServiceEntry host through its IPv6 VIP (the AAAA answer), and by Host: VIP on both families.
    const viaVips = await inPod(
      pod,
      `async (lib) => [
      await lib.get(${JSON.stringify(vip6)}, 80, '/', { host: 'web.example.com' }),
      await lib.get(${JSON.stringify(vip4)}, 80, '/'),
      await lib.get(${JSON.stringify(vip6)}, 80, '/'),
      await lib.get(${JSON.stringify(EXT6)}, 80, '/', { host: ${JSON.stringify(`${vip4}:80`)} }),
    ]`,
    );
    assert.deepEqual(viaVips, ['200 ext ok', '200 ext ok', '200 ext ok', '200 ext ok']);
    await logged('outbound|80||web.example.com');
    // A raw IPv6 connection to an unregistered port is closed by the sidecar (the server would answer `reached`).
    assert.notEqual(await inPod(pod, `(lib) => lib.tcp(${JSON.stringify(EXT6)}, 7777, 'x')`), 'reached');

    // Explicit addresses, one port: each destination address reaches its own entry's listener (and its server).
    const explicit = await inPod(
      pod,
      `async (lib) => [await lib.tcp(${JSON.stringify(FIXED)}, 9000, 'a'), await lib.tcp(${JSON.stringify(OTHER)}, 9000, 'b'), await lib.tcp(${JSON.stringify(FIXED6)}, 9000, 'c')]`,
    );
    assert.deepEqual(explicit, [`${FIXED} got a`, `${OTHER} got b`, `${FIXED6} got c`]);
    for (const host of ['fixed', 'other', 'six']) await logged(`outbound|9000||${host}.example.com`);

    // Inbound over IPv6: from the node to the app's port, through the sidecar's inbound listener (on ::).
    const app = await startIn(pod, [NODE, '-e', `require('http').createServer((q, r) => r.end('app ok')).listen(8080, () => console.log('ready'))`], /^ready$/);
    stopAll.push(app.child);
    const inbound = await new Promise<string>((resolve) => {
      const child = spawn('nsenter', [`--net=/run/netns/${node.name}`, 'curl', '-sS', '--max-time', '8', `http://[${POD6}]:8080/`], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (out += c.toString()));
      child.on('close', () => resolve(out));
    });
    assert.equal(inbound, 'app ok');
    await logged('inbound|8080||');

    // excludeOutboundIPRanges with an IPv6 range: that destination is reached directly, past the sidecar.
    await applyCaptureRuleset(pod, rules({ 'traffic.sidecar.istio.io/excludeOutboundIPRanges': `${EXT6}/128` }));
    assert.deepEqual(await inPod(pod, `async (lib) => [await lib.get(${JSON.stringify(EXT6)}, 80, '/'), await lib.get(${JSON.stringify(EXT4)}, 80, '/')]`), [
      '200 ext ok',
      '502',
    ]);
    // Straight from the pod's own IPv6 address (the sidecar's requests above came from its IPv4 one).
    await eventually('the direct IPv6 request at the server', () => ext.lines.find((l) => l === `http [${EXT6}] from ${POD6}`));
  },
);
