// What listeners and exchanges read from the proxy: the config in force, the access log, the metrics.
import type { CompiledConfig } from './config/compile.js';
import type { AccessLogger } from './telemetry/accesslog.js';
import type { ProxyMetrics } from './telemetry/metrics.js';
import type { WorkloadIdentity } from './identity/workload-identity.js';

export interface ProxyRuntime {
  /** The config in force; a request reads it once and keeps it. */
  readonly current: CompiledConfig;
  /** Undefined when access logging is off: callers then build no entries. */
  readonly accessLog: AccessLogger | undefined;
  readonly metrics: ProxyMetrics;
  /** Time limit for a TLS ClientHello (passthrough listeners), ms. */
  readonly helloTimeoutMs: number;
  /** The proxy's workload identity (mesh mTLS); undefined when it was started without one. */
  readonly identity: WorkloadIdentity | undefined;
}
