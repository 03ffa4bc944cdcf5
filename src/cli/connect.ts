// How a verb reaches the running mesh: the state dir's api.json → the Kubernetes API client
// and the control endpoint; a clear message when nothing is running there.
import type { Command } from 'commander';
import { ApiClient } from '../apiserver/client.js';
import { ControlClient } from '../runtime/control-server.js';
import { probeRunningMesh } from '../runtime/mesh-probe.js';
import { displayStateDir, resolveStateDir, statePaths, type MeshEndpoint, type StatePaths } from '../runtime/state-dir.js';
import { CliError } from './errors.js';

export interface MeshConnection {
  endpoint: MeshEndpoint;
  paths: StatePaths;
  api: ApiClient;
  control: ControlClient;
}

/** Adds `--state-dir DIR` to a verb. */
export function withStateDir(cmd: Command): Command {
  return cmd.option('--state-dir <dir>', "the mesh's state directory (default: $OUTPOST_STATE_DIR or ./.outpost)");
}

function notRunningMessage(stateDirFlag?: string): string {
  return `outpost: the mesh is not running (state dir ${displayStateDir(stateDirFlag)}). Start it with \`outpost up -d\`.`;
}

export async function connect(stateDirFlag?: string): Promise<MeshConnection> {
  const paths = statePaths(resolveStateDir(stateDirFlag));
  const endpoint = await probeRunningMesh(paths);
  if (!endpoint) throw new CliError(notRunningMessage(stateDirFlag));
  return {
    endpoint,
    paths,
    api: new ApiClient({ url: endpoint.url, token: endpoint.token }),
    control: new ControlClient(endpoint.controlUrl, endpoint.token),
  };
}
