// TLS passthrough and plain TCP listeners: SNI routing (exact, wildcard, default), silent and
// non-TLS clients, TCP-style access-log lines and TCP metrics.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { execFile } from 'node:child_process';
import { startTlsEcho, startTcpEcho } from '../../helpers/upstreams.js';
import { testCerts } from '../../helpers/certs.js';
import { startProxy, tempDir, parseLogLine, freePort } from '../../helpers/proxy-harness.js';
import { proxyConfig, tlsListener, tcpListener, sniChain, staticCluster, textLog, tcpRoute } from '../../helpers/proxyconfig.js';

async function gateway(t: TestContext, withDefault = false) {
  const c = testCerts();
  const cnn = await startTlsEcho({ name: 'cnn', cert: c.serverCertPem, key: c.serverKeyPem });
  const wiki = await startTlsEcho({ name: 'wiki', cert: c.serverCertPem, key: c.serverKeyPem });
  const echo = await startTcpEcho({ greeting: 'tcp-hello\n' });
  t.after(async () => {
    await cnn.close();
    await wiki.close();
    await echo.close();
  });
  const tlsPort = await freePort();
  const tcpPort = await freePort();
  const logPath = join(tempDir(t), 'access.log');
  const cfg = proxyConfig({
    role: 'router',
    accessLog: textLog(logPath),
    listeners: [
      tlsListener(
        '0.0.0.0_443',
        tlsPort,
        [sniChain(['edition.cnn.com'], 'outbound|443||edition.cnn.com', 'cnn-tls'), sniChain(['*.wikipedia.org'], 'outbound|443||www.wikipedia.org')],
        withDefault ? { defaultChain: tcpRoute('outbound|443||edition.cnn.com') } : {},
      ),
      tcpListener('0.0.0.0_9000', tcpPort, 'outbound|9000||echo.internal'),
    ],
    clusters: [
      staticCluster('outbound|443||edition.cnn.com', [{ address: '127.0.0.1', port: cnn.port }], { protocol: 'TCP' }),
      staticCluster('outbound|443||www.wikipedia.org', [{ address: '127.0.0.1', port: wiki.port }], { protocol: 'TCP' }),
      staticCluster('outbound|9000||echo.internal', [{ address: '127.0.0.1', port: echo.port }], { protocol: 'TCP' }),
    ],
  });
  const p = await startProxy(t, cfg, { helloTimeoutMs: 300 }, logPath);
  return { p, tlsPort, tcpPort, cnn, wiki, ca: c.caPem };
}

function tlsHello(port: number, servername: string | undefined, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ...(servername ? { servername } : {}), ca, checkServerIdentity: () => undefined });
    let got = '';
    let pinged = false;
    s.on('data', (d) => {
      got += d;
      if (!pinged && got.includes('\n')) {
        pinged = true;
        s.write('ping\n');
      }
      if (got.includes('ping') && !s.writableEnded) s.end();
    });
    s.on('end', () => resolve(got));
    s.on('error', reject);
  });
}

test('exact and wildcard SNI route to their clusters, logged as TCP with SNI and route', async (t) => {
  const g = await gateway(t);
  assert.match(await tlsHello(g.tlsPort, 'edition.cnn.com', g.ca), /hello from cnn/);
  assert.match(await tlsHello(g.tlsPort, 'en.wikipedia.org', g.ca), /hello from wiki/);
  assert.deepEqual(g.cnn.servernames, ['edition.cnn.com']);
  const lines = await g.p.logLines(2);
  const a = parseLogLine(lines[0]!);
  assert.equal(a.request, '- - -');
  assert.equal(a.code, '0');
  assert.equal(a.flags, '-');
  assert.equal(a.upstreamServiceTime, '-');
  assert.equal(a.upstreamCluster, 'outbound|443||edition.cnn.com');
  assert.equal(a.upstreamHost, `127.0.0.1:${g.cnn.port}`);
  assert.equal(a.sni, 'edition.cnn.com');
  assert.equal(a.route, 'cnn-tls');
  assert.ok(Number(a.bytesReceived) > 100, 'the ClientHello counts as received');
  assert.ok(Number(a.bytesSent) > 100);
  assert.equal(parseLogLine(lines[1]!).sni, 'en.wikipedia.org');
  const metrics = g.p.proxy.metrics.render();
  assert.match(metrics, /istio_tcp_connections_opened_total\{[^}]*destination_service="edition.cnn.com"[^}]*\} 1/);
});

test('openssl s_client with SNI gets through; an unknown SNI without a default chain is closed and logged NR', async (t) => {
  const g = await gateway(t);
  const out = await new Promise<string>((resolve) => {
    // s_client -quiet ignores stdin EOF: stop it once the upstream's greeting came through.
    const child = execFile('openssl', ['s_client', '-connect', `127.0.0.1:${g.tlsPort}`, '-servername', 'edition.cnn.com', '-quiet'], { timeout: 10_000 }, () =>
      resolve(buf),
    );
    let buf = '';
    child.stdout!.on('data', (d) => {
      buf += d;
      if (buf.includes('hello from cnn')) child.kill();
    });
  });
  assert.match(out, /hello from cnn/);
  await assert.rejects(tlsHello(g.tlsPort, 'unknown.example.org', g.ca));
  const lines = await g.p.logLines(2);
  // Lines come in close order: the s_client connection may close after the refused one.
  const f = lines.map(parseLogLine).find((l) => l.sni === 'unknown.example.org')!;
  assert.equal(f.flags, 'NR');
  assert.equal(f.termination, 'filter_chain_not_found');
  assert.equal(f.sni, 'unknown.example.org');
});

test('no SNI uses the default chain when there is one', async (t) => {
  const g = await gateway(t, true);
  assert.match(await tlsHello(g.tlsPort, undefined, g.ca), /hello from cnn/);
});

test('a silent client is closed after the hello timeout; non-TLS bytes are closed; both logged', async (t) => {
  const g = await gateway(t);
  const closed = (write?: string) =>
    new Promise<void>((resolve) => {
      const s = net.connect(g.tlsPort, '127.0.0.1', () => {
        if (write) s.write(write);
      });
      s.on('error', () => {});
      s.on('close', () => resolve());
      s.resume();
    });
  await closed();
  await closed('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  const lines = await g.p.logLines(2);
  const terms = lines.map((l) => parseLogLine(l).termination).sort();
  assert.deepEqual(terms, ['filter_chain_not_found', 'tls_inspector_timeout']);
  assert.match(await tlsHello(g.tlsPort, 'edition.cnn.com', g.ca), /hello from cnn/);
});

test('a TCP listener pipes bytes both ways to its cluster', async (t) => {
  const g = await gateway(t);
  const got = await new Promise<string>((resolve, reject) => {
    const s = net.connect(g.tcpPort, '127.0.0.1');
    let buf = '';
    s.on('data', (d) => {
      buf += d;
      if (buf === 'tcp-hello\n') s.write('abc');
      if (buf.endsWith('abc')) s.end();
    });
    s.on('close', () => resolve(buf));
    s.on('error', reject);
  });
  assert.equal(got, 'tcp-hello\nabc');
  const f = parseLogLine((await g.p.logLines(1))[0]!);
  assert.equal(f.upstreamCluster, 'outbound|9000||echo.internal');
  assert.equal(f.bytesReceived, '3');
  assert.equal(f.bytesSent, '13');
});

test('an upstream that closes first (HTTP with Connection: close over TLS): each connection ends when its client does, logged and counted closed', async (t) => {
  const c = testCerts();
  // Like a server answering `Connection: close`: the response, then its end, before the client's close_notify.
  const server = tls.createServer({ cert: c.serverCertPem, key: c.serverKeyPem }, (s) => {
    s.on('error', () => undefined);
    s.once('data', () => s.end('HTTP/1.1 200 OK\r\ncontent-length: 7\r\nconnection: close\r\n\r\ntls ok\n'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as net.AddressInfo).port;
  const tlsPort = await freePort();
  const logPath = join(tempDir(t), 'access.log');
  const cfg = proxyConfig({
    role: 'router',
    accessLog: textLog(logPath),
    listeners: [tlsListener('0.0.0.0_443', tlsPort, [sniChain(['tls.example.com'], 'outbound|443||tls.example.com')])],
    clusters: [staticCluster('outbound|443||tls.example.com', [{ address: '127.0.0.1', port }], { protocol: 'TCP' })],
  });
  const p = await startProxy(t, cfg, {}, logPath);
  for (let i = 0; i < 3; i++) {
    const got = await new Promise<string>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: tlsPort, servername: 'tls.example.com', ca: c.caPem, checkServerIdentity: () => undefined }, () =>
        s.write('GET / HTTP/1.1\r\nHost: tls.example.com\r\nConnection: close\r\n\r\n'),
      );
      let body = '';
      s.on('data', (d: Buffer) => (body += String(d)));
      // The client's close_notify and FIN come after the proxy has already seen the upstream go.
      s.on('end', () => {
        s.end();
        resolve(body);
      });
      s.on('error', reject);
    });
    assert.match(got, /tls ok\n$/);
  }
  const lines = await p.logLines(3);
  assert.equal(lines.length, 3, lines.join('\n'));
  for (const l of lines) assert.equal(parseLogLine(l).upstreamCluster, 'outbound|443||tls.example.com');
  assert.match(p.proxy.metrics.render(), /istio_tcp_connections_closed_total\{[^}]*destination_service="tls.example.com"[^}]*\} 3/);
});
