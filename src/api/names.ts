// Name and host syntax rules shared by the kinds (Kubernetes DNS-1123 names, Istio hosts, IPs).
import { isIP } from 'node:net';

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Error text for a DNS-1123 subdomain (most object names), or undefined when valid. */
export function checkDns1123Subdomain(v: string): string | undefined {
  if (v.length > 253) return 'must be no more than 253 characters';
  if (!SUBDOMAIN.test(v))
    return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')";
  return undefined;
}

/** Error text for a DNS-1123 label (namespace and Service names), or undefined when valid. */
export function checkDns1123Label(v: string): string | undefined {
  if (v.length > 63) return 'must be no more than 63 characters';
  if (!LABEL.test(v))
    return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name')";
  return undefined;
}

const HOST_LABEL = /^[A-Za-z0-9]([-A-Za-z0-9_]*[A-Za-z0-9])?$/;

/**
 * An Istio host: a DNS name whose left-most label may be `*` or `*`-prefixed (`*.example.com`,
 * `*example.com` is not allowed), or `*` alone when allowBareWildcard. Returns the error text.
 */
export function checkIstioHost(host: string, opts: { allowBareWildcard?: boolean; allowIp?: boolean; allowShortName?: boolean } = {}): string | undefined {
  if (host === '') return 'host must not be empty';
  if (host === '*') return opts.allowBareWildcard ? undefined : 'a bare wildcard "*" is not allowed here';
  if (opts.allowIp && isIP(host)) return undefined;
  if (host.length > 255) return 'must be no more than 255 characters';
  if (host.includes('://') || host.includes('/')) return 'must be a host name, not a URL';
  const labels = host.split('.');
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    if (i === 0 && l === '*') continue;
    if (l.includes('*')) return 'a wildcard is only allowed as the whole left-most label ("*.example.com")';
    if (l === '' && i === labels.length - 1 && i > 0) continue; // trailing dot (FQDN)
    if (!HOST_LABEL.test(l) || l.length > 63)
      return "each label must consist of alphanumeric characters or '-', start and end with an alphanumeric character, and be at most 63 characters";
  }
  return undefined;
}

export function isWildcardHost(host: string): boolean {
  return host.startsWith('*');
}

const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

/** A label or annotation key (`prefix/name`): error text or undefined. */
export function checkQualifiedName(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash < 0 ? '' : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (slash >= 0 && (prefix === '' || checkDns1123Subdomain(prefix))) return 'prefix part must be a lowercase RFC 1123 subdomain';
  if (name.length === 0 || name.length > 63 || !LABEL_NAME.test(name))
    return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character, at most 63 characters";
  return undefined;
}

/** A label value: error text or undefined. */
export function checkLabelValue(v: string): string | undefined {
  if (v === '') return undefined;
  if (v.length > 63 || !LABEL_NAME.test(v))
    return "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character, at most 63 characters";
  return undefined;
}

/** IPv4/IPv6 address or CIDR. */
export function isIpOrCidr(v: string): boolean {
  const slash = v.indexOf('/');
  if (slash < 0) return isIP(v) !== 0;
  const ip = v.slice(0, slash);
  const bits = v.slice(slash + 1);
  const fam = isIP(ip);
  if (!fam || !/^\d+$/.test(bits)) return false;
  return Number(bits) <= (fam === 4 ? 32 : 128);
}
