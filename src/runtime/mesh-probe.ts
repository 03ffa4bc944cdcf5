// Whether a mesh serves a state dir: read apart from mesh.ts so that the CLI's verbs, which only
// need this answer, do not load the control plane, the API server and the store to get it.
import { httpFetch } from '../apiserver/http-fetch.js';
import { isPidAlive, readEndpoint, type MeshEndpoint, type StatePaths } from './state-dir.js';

/** The live endpoint of a mesh on this state dir, if its process is alive and answers. */
export async function probeRunningMesh(paths: StatePaths): Promise<MeshEndpoint | undefined> {
  const ep = readEndpoint(paths);
  if (!ep || !isPidAlive(ep.pid)) return undefined;
  try {
    const res = await httpFetch(`${ep.controlUrl}/v1/health`, { headers: { authorization: `Bearer ${ep.token}` }, signal: AbortSignal.timeout(2000) });
    res.body.resume();
    return res.ok ? ep : undefined;
  } catch {
    return undefined;
  }
}
