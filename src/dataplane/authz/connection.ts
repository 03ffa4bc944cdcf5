// AuthorizationPolicy on a TCP/TLS connection (Envoy's network RBAC filter): a denied connection is
// closed, logged with the matched policy in the termination details, and counted.
import type { Socket } from 'node:net';
import { peerOf } from '../identity/workload-identity.js';
import { auditMetadata } from './engine.js';
import { TcpLogEntry, resetSocket } from '../l4/tcp-proxy.js';
import type { ProxyRuntime } from '../runtime.js';

/**
 * True when the connection may go on; otherwise it has been closed and logged. A matched AUDIT
 * policy's metadata goes to `audit` (for the connection's own access-log line).
 */
export function authorizeConnection(
  rt: ProxyRuntime,
  socket: Socket,
  port: number,
  sni: string | undefined,
  startTime: number,
  audit?: (m: Record<string, Record<string, string>>) => void,
): boolean {
  const authz = rt.current.authz;
  if (authz === undefined) return true;
  const peer = peerOf(socket);
  const v = authz.evaluate({
    principal: peer?.principal,
    sourceIp: socket.remoteAddress,
    destinationIp: socket.localAddress,
    destinationPort: port,
    sni: sni ?? peer?.sni,
  });
  const am = auditMetadata(v);
  if (am !== undefined) {
    rt.metrics.rbac('tcp', 'logged');
    audit?.(am);
  }
  if (v.shadowDenied) rt.metrics.rbac('tcp', 'shadow_denied');
  if (v.allowed) {
    rt.metrics.rbac('tcp', 'allowed');
    return true;
  }
  rt.metrics.rbac('tcp', 'denied');
  const e = new TcpLogEntry(socket, startTime, sni ?? peer?.sni, undefined);
  e.connectionTerminationDetails = v.details;
  if (am !== undefined) e.dynamicMetadata = am;
  e.responseCodeDetails = v.details;
  e.bytesReceived = socket.bytesRead;
  resetSocket(socket);
  e.durationMs = Date.now() - startTime;
  rt.accessLog?.log(e);
  return false;
}
