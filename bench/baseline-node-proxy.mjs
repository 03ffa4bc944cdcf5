#!/usr/bin/env node
// A deliberately plain Node.js egress hop: node:http server, undici Pool upstream, one access
// log line per request through a fs.WriteStream. The benchmark runs it next to outpost as the
// "what Node gives without tuning" reference (benchmarking.md quotes ~0.44 × nginx for it).
// usage: node bench/baseline-node-proxy.mjs LISTEN_IP:PORT UPSTREAM_IP:PORT [ACCESS_LOG]

import http from 'node:http';
import { createWriteStream } from 'node:fs';
import { Pool } from 'undici';

const [listen, upstream, logPath] = process.argv.slice(2);
if (!listen || !upstream) {
  console.error('usage: baseline-node-proxy.mjs LISTEN_IP:PORT UPSTREAM_IP:PORT [ACCESS_LOG]');
  process.exit(2);
}
const [lip, lport] = listen.split(':');
const pool = new Pool(`http://${upstream}`, { connections: 256, pipelining: 1, keepAliveTimeout: 300_000 });
const accessLog = logPath ? createWriteStream(logPath, { flags: 'a' }) : undefined;
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

const server = http.createServer(async (req, res) => {
  const start = process.hrtime.bigint();
  const host = (req.headers.host ?? '').replace(/:\d+$/, '');
  if (host !== 'httpbin.org') {
    res.writeHead(404).end();
    return;
  }
  const headers = {};
  for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k)) headers[k] = v;
  try {
    const up = await pool.request({ method: req.method, path: req.url, headers, body: req.method === 'GET' || req.method === 'HEAD' ? null : req });
    const out = {};
    for (const [k, v] of Object.entries(up.headers)) if (!HOP.has(k)) out[k] = v;
    res.writeHead(up.statusCode, out);
    let bytes = 0;
    for await (const chunk of up.body) {
      bytes += chunk.length;
      res.write(chunk);
    }
    res.end();
    if (accessLog) {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      accessLog.write(
        `[${new Date().toISOString()}] "${req.method} ${req.url} HTTP/${req.httpVersion}" ${up.statusCode} - 0 ${bytes} ${ms.toFixed(0)} "${req.headers['user-agent'] ?? '-'}" "${req.headers.host}" "${upstream}"\n`,
      );
    }
  } catch (e) {
    if (!res.headersSent) res.writeHead(503).end(String(e.message));
    else res.destroy();
  }
});
server.keepAliveTimeout = 300_000;
server.listen(Number(lport), lip);
const stop = () => server.close(() => pool.close().then(() => accessLog?.end(() => process.exit(0)) ?? process.exit(0)));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
