// Dumps of a ProxyConfig show no key material: private keys are replaced as Envoy's config_dump redacts secrets.
const REDACTED = '[redacted]';

/** Field names whose values are secret wherever they appear in a config. */
const SECRET_FIELDS = new Set(['privateKey', 'password']);

/** A deep copy of `value` with every secret field's value replaced by `[redacted]`. */
export function redactSecrets<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, (k, v: unknown) => (SECRET_FIELDS.has(k) && v !== undefined && v !== null && v !== '' ? REDACTED : v))) as T;
}
