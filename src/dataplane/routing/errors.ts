// ConfigError: a ProxyConfig that cannot be compiled (bad regex, bad format string); the old config keeps serving.

export class ConfigError extends Error {
  readonly code = 'INVALID_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
