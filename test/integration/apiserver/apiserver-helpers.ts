// Shared setup for the API server tests (not a test itself): a store in a temp dir, the API on an
// ephemeral port, a kubeconfig for it, and a way to run the real kubectl against it.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeKubeconfig } from '../../../src/apiserver/kubeconfig.js';
import { startApiServer, type ApiServerOptions } from '../../../src/apiserver/server.js';
import { openSqliteStore } from '../../../src/store/sqlite.js';
import type { Store } from '../../../src/store/types.js';

export const TOKEN = 'test-token-0123456789';

export interface TestApi {
  dir: string;
  store: Store;
  url: string;
  kubeconfig: string;
}

export async function startTestApi(t: { after(fn: () => unknown): void }, opts: Partial<ApiServerOptions> = {}): Promise<TestApi> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-api-'));
  const store = openSqliteStore(join(dir, 'store.db'));
  store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' }, status: { phase: 'Active' } });
  const api = await startApiServer({ store, token: TOKEN, ...opts });
  const kubeconfig = join(dir, 'kubeconfig');
  writeKubeconfig(kubeconfig, { url: api.url, token: TOKEN });
  t.after(async () => {
    await api.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, store, url: api.url, kubeconfig };
}

export const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p));

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs kubectl asynchronously (the API server lives in this process and must keep serving). */
export function kubectl(api: TestApi, args: string[], input?: string, env: Record<string, string> = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      KUBECTL!,
      ['--kubeconfig', api.kubeconfig, ...args],
      { timeout: 30_000, env: { ...process.env, ...env, KUBECACHEDIR: join(api.dir, 'cache') } },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin!.end(input);
  });
}
