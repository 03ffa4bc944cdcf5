// The environment a workload started with `outpost exec` gets: the user's, less every mesh credential.
//
// A pod gets no key to the mesh's API or config distribution; neither does an exec'd command: no
// OUTPOST_* variable (OUTPOST_STATE_DIR leads to the token), and no variable naming the state dir
// (a KUBECONFIG there holds the admin token) or holding the token itself.
export function workloadEnvironment(base: NodeJS.ProcessEnv, mesh: { stateDir: string; token: string }): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(base)) {
    if (value === undefined) continue;
    if (/^OUTPOST_/i.test(name)) continue;
    if (value.includes(mesh.stateDir) || (mesh.token !== '' && value.includes(mesh.token))) continue;
    out[name] = value;
  }
  return out;
}
