// Kubernetes' LabelSelector (matchLabels, matchExpressions): matching and kubectl's text for it.
// Apart from the NetworkPolicy kind so that the CLI's tables print selectors without loading the
// kinds' validation and field trees (CLI start-up).

export interface LabelSelectorRequirement {
  readonly key: string;
  readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  readonly values?: readonly string[];
}

export interface LabelSelectorSpec {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: readonly LabelSelectorRequirement[];
}

/** True when labels satisfy a LabelSelector (an empty selector selects everything; an unknown operator, nothing). */
export function selectorMatches(sel: LabelSelectorSpec | undefined, labels: Readonly<Record<string, string>> | undefined): boolean {
  const l = labels ?? {};
  for (const [k, v] of Object.entries(sel?.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const e of sel?.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(l, e.key);
    const values = e.values ?? [];
    const ok =
      e.operator === 'In'
        ? has && values.includes(l[e.key]!)
        : e.operator === 'NotIn'
          ? !has || !values.includes(l[e.key]!)
          : e.operator === 'Exists'
            ? has
            : e.operator === 'DoesNotExist' && !has;
    if (!ok) return false;
  }
  return true;
}

/** kubectl's text for a selector (`app=a,tier in (x,y)`; `<none>` when empty). */
export function formatLabelSelector(sel: LabelSelectorSpec | undefined): string {
  const parts = Object.entries(sel?.matchLabels ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`);
  for (const e of sel?.matchExpressions ?? []) {
    const values = [...(e.values ?? [])].sort().join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${values})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${values})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else parts.push(`!${e.key}`);
  }
  return parts.length ? parts.join(',') : '<none>';
}
