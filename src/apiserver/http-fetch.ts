// The part of fetch() that outpost's own clients (the API client, the control client) use, over
// node:http. Node 20's global fetch loads its bundled undici, web streams and a wasm HTTP parser on
// first use: about 0.3 s of CPU, which was most of a CLI verb's cost (`outpost get pods`, measured
// with --cpu-prof). Failures look like fetch's, so callers' error handling is the same: a request
// that got no answer rejects with TypeError('fetch failed', { cause }), an aborted one with the
// signal's reason (a TimeoutError for AbortSignal.timeout).
import { request as httpRequest, type IncomingMessage } from 'node:http';

export interface HttpInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

export interface HttpResponse {
  readonly ok: boolean;
  readonly status: number;
  readonly statusText: string;
  /** The body as it arrives (a watch reads it line by line); text() and json() read it whole. */
  readonly body: IncomingMessage;
  text(): Promise<string>;
  json(): Promise<unknown>;
}

function failed(err: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted) return signal.reason as unknown;
  return new TypeError('fetch failed', { cause: err });
}

export function httpFetch(url: string | URL, init: HttpInit = {}): Promise<HttpResponse> {
  const target = typeof url === 'string' ? new URL(url) : url;
  // node:https (and TLS with it) is loaded only for an https URL: the local mesh's endpoints are plain
  // HTTP on loopback, and loading it cost the CLI ~4 ms of CPU at start-up.
  const send = target.protocol === 'https:' ? process.getBuiltinModule('node:https').request : httpRequest;
  const { signal } = init;
  const headers = { ...init.headers, ...(init.body !== undefined ? { 'content-length': String(Buffer.byteLength(init.body)) } : {}) };
  return new Promise((resolve, reject) => {
    const req = send(target, { method: init.method ?? 'GET', headers, ...(signal ? { signal } : {}) }, (res) => {
      const text = async (): Promise<string> => {
        res.setEncoding('utf8');
        let out = '';
        try {
          for await (const chunk of res) out += chunk as string;
        } catch (err) {
          throw failed(err, signal);
        }
        return out;
      };
      const status = res.statusCode ?? 0;
      resolve({
        ok: status >= 200 && status < 300,
        status,
        statusText: res.statusMessage ?? '',
        body: res,
        text,
        json: async () => JSON.parse(await text()) as unknown,
      });
    });
    req.on('error', (err) => reject(failed(err, signal)));
    req.end(init.body);
  });
}
