// The shape of a kind's fields as a compact tree: enough to find unknown fields, wrong types,
// unsupported enum values and missing required fields, and to say where.

/**
 * 's' string, 'i' number, 'b' boolean, 'is' integer-or-string, '*' anything;
 * ['e', ...values] a string enum; {l} a list of; {m} a string-keyed map of;
 * {p, r, o} an object with known properties p, required r, and o=1 when other keys are allowed.
 */
export type FieldNode =
  | 's'
  | 'i'
  | 'b'
  | 'is'
  | '*'
  | readonly string[]
  | { readonly l: FieldNode }
  | { readonly m: FieldNode }
  | { readonly p: Readonly<Record<string, FieldNode>>; readonly r?: readonly string[]; readonly o?: 1 };

export function isEnumNode(n: FieldNode): n is readonly string[] {
  return Array.isArray(n);
}
