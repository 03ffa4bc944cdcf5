// Sidecar checks: a workloadSelector selects a pod (IST0101), no pod is selected by two Sidecars
// (IST0110), and a namespace has at most one Sidecar without a selector (IST0111).
import type { SidecarSpec } from '../../api/kinds/sidecar.js';
import { CODES, type Finding } from '../finding.js';
import { describeSelector, labelsMatch, type Entry, type Snapshot } from '../snapshot.js';
import { report } from './report.js';
import { ISTIO_NETWORKING_GROUP } from '../../api/groups.js';

export function analyzeSidecars(snap: Snapshot): Finding[] {
  const findings: Finding[] = [];
  const pods = snap.pods();
  const byPod = new Map<string, { ns: string; pod: string; sidecars: Entry[] }>();
  const unselected = new Map<string, Entry[]>();
  for (const sc of snap.of(ISTIO_NETWORKING_GROUP, 'Sidecar')) {
    const labels = (sc.obj.spec as SidecarSpec | undefined)?.workloadSelector?.labels;
    if (!labels || typeof labels !== 'object' || Object.keys(labels).length === 0) {
      unselected.set(sc.namespace, [...(unselected.get(sc.namespace) ?? []), sc]);
      continue;
    }
    const selected = pods.filter((p) => p.entry.namespace === sc.namespace && labelsMatch(labels, p.labels));
    if (selected.length === 0) {
      findings.push(
        report(sc, CODES.ReferencedResourceNotFound, 'Error', `Referenced selector not found: "${describeSelector(labels)}"`, 'spec.workloadSelector'),
      );
    }
    for (const p of selected) {
      const key = `${p.entry.namespace}/${p.name}`;
      const e = byPod.get(key) ?? { ns: p.entry.namespace, pod: p.name, sidecars: [] };
      e.sidecars.push(sc);
      byPod.set(key, e);
    }
  }
  const names = (list: readonly Entry[]) =>
    `[${list
      .map((e) => e.name)
      .sort()
      .join(' ')}]`;
  for (const { ns, pod, sidecars } of byPod.values()) {
    if (sidecars.length < 2) continue;
    for (const sc of sidecars) {
      findings.push(
        report(
          sc,
          CODES.ConflictingSidecarWorkloadSelectors,
          'Error',
          `The Sidecars ${names(sidecars)} in namespace "${ns}" select the same workload pod "${pod}", which can lead to undefined behavior.`,
        ),
      );
    }
  }
  for (const [ns, list] of unselected) {
    if (list.length < 2) continue;
    for (const sc of list) {
      findings.push(
        report(
          sc,
          CODES.MultipleSidecarsWithoutWorkloadSelectors,
          'Error',
          `The Sidecars ${names(list)} in namespace "${ns}" have no workload selector, which can lead to undefined behavior.`,
        ),
      );
    }
  }
  return findings;
}
