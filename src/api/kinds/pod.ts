// core v1 Pod: the local mesh writes one per Deployment; users may apply their own.
import { FIELD_TREES } from '../schema/field-trees.gen.js';
import type { KindModule } from './kind-module.js';

export const podKind: KindModule = { group: '', kind: 'Pod', fieldTree: FIELD_TREES['Pod'] };
