// The source address of upstream connections: the proxy's own workload address (its pod IP; on
// the local mesh a 127.x.y.z), so upstreams and UPSTREAM_LOCAL_ADDRESS see the workload, as in a
// pod, rather than whatever address the kernel picks.
import net from 'node:net';
import os from 'node:os';

/**
 * `ip` when a connection from it can reach `target`: same IP family, and both loopback or both not
 * (a loopback source cannot reach a routable address, and the reverse is refused on most hosts).
 * Undefined otherwise, or when either is not a literal address: the kernel picks.
 */
export function sourceAddressFor(ip: string | undefined, target: string): string | undefined {
  if (ip === undefined || ip === '') return undefined;
  const fam = net.isIP(ip);
  if (fam === 0 || fam !== net.isIP(target)) return undefined;
  if (isUnspecified(ip)) return undefined;
  if (isLoopback(ip) !== isLoopback(target)) return undefined;
  return isBindable(ip) ? ip : undefined;
}

const bindable = new Map<string, boolean>();

/**
 * Whether this host can bind `ip`: all of 127.0.0.0/8 on Linux, else an interface's address. A
 * configured pod IP that is not on this host would make every upstream connection fail.
 */
function isBindable(ip: string): boolean {
  if (!ip.includes(':') && ip.startsWith('127.')) return true;
  let ok = bindable.get(ip);
  if (ok === undefined) {
    ok = Object.values(os.networkInterfaces()).some((list) => list?.some((a) => a.address === ip) === true);
    bindable.set(ip, ok);
  }
  return ok;
}

function isLoopback(a: string): boolean {
  if (a.includes(':')) {
    const l = a.toLowerCase();
    return l === '::1' || /^(0{0,4}:){7}0{0,3}1$/.test(l) || l.startsWith('::ffff:127.');
  }
  return a.startsWith('127.');
}

function isUnspecified(a: string): boolean {
  return a === '0.0.0.0' || a === '::' || /^[0:]+$/.test(a);
}
