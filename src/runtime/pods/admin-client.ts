// GETs from a proxy's admin endpoint: over its Unix socket when it has one (a proxy inside a
// pod's network namespace, whose 127.0.0.1 the node cannot reach), else over TCP.
import http from 'node:http';

export interface AdminAddress {
  address: string;
  port: number;
  socket?: string;
}

export function adminGet(admin: AdminAddress, path: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const where = admin.socket !== undefined ? { socketPath: admin.socket } : { host: admin.address, port: admin.port };
    const req = http.get({ ...where, path, timeout: timeoutMs, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`admin ${path}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}
