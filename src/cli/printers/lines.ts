// Cutting log text by lines, as `kubectl logs --tail` does: the runtime's log reader owns the rule.
export { lastLinesOf as lastLines } from '../../runtime/log-file.js';
