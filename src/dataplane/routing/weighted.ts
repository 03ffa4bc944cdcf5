// Weighted cluster choice: each cluster's share is weight / sum(weights); weight 0 gets nothing.

import type { WeightedCluster } from '../../proxyconfig/types.js';

export function pickWeighted(clusters: readonly WeightedCluster[], rand: () => number = Math.random): WeightedCluster | undefined {
  const n = clusters.length;
  if (n === 0) return undefined;
  if (n === 1) return clusters[0]!.weight > 0 || clusters[0]!.weight === undefined ? clusters[0] : undefined;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const w = clusters[i]!.weight;
    if (w > 0) total += w;
  }
  if (total <= 0) return undefined;
  let r = rand() * total;
  for (let i = 0; i < n; i++) {
    const w = clusters[i]!.weight;
    if (!(w > 0)) continue;
    if (r < w) return clusters[i];
    r -= w;
  }
  // Floating-point leftovers land on the last cluster with weight.
  for (let i = n - 1; i >= 0; i--) if (clusters[i]!.weight > 0) return clusters[i];
  return undefined;
}
