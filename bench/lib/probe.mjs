// One request through a target before it is measured: a proxy that answers fast with the wrong
// thing (a 404, another body) must not be mistaken for a fast proxy.

import http from 'node:http';
import { EXTERNAL_HOST, UPSTREAM_BODY } from './peers.mjs';

export function probe({ ip, port, form }, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: ip,
        port,
        path: form === 'absolute' ? `http://${EXTERNAL_HOST}/` : '/',
        headers: { host: EXTERNAL_HOST },
        agent: false,
        timeout: timeoutMs,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => {
          if (res.statusCode !== 200) reject(new Error(`probe: HTTP ${res.statusCode} from ${ip}:${port}: ${body.slice(0, 200)}`));
          else if (body !== UPSTREAM_BODY) reject(new Error(`probe: unexpected body from ${ip}:${port}: ${body.slice(0, 200)}`));
          else resolve();
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`probe: no answer from ${ip}:${port} in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}
