// Creates or replaces objects on a cluster in order (install), or deletes them (uninstall).
import type { KubeObject } from '../api/object.js';
import { loadKubeConfig } from './controller.js';
import { KubeHttp, KubeHttpError } from './kube-http.js';
import { objectPaths } from './object-paths.js';

interface Target {
  kubeconfig?: string;
  context?: string;
  log: (line: string) => void;
}

const label = (o: KubeObject): string => `${o.kind.toLowerCase()}/${o.metadata.name}`;

export async function applyObjects(objects: readonly KubeObject[], target: Target): Promise<void> {
  const http = new KubeHttp(loadKubeConfig(target.kubeconfig, target.context));
  for (const obj of objects) {
    const { collection, item } = objectPaths(obj);
    try {
      await http.json({ method: 'POST', path: collection, body: obj });
      target.log(`${label(obj)} created`);
    } catch (err) {
      if (!(err instanceof KubeHttpError && err.code === 409)) throw err;
      if (obj.kind === 'Namespace') {
        // Someone's namespace already: left as it is (its labels are theirs).
        target.log(`${label(obj)} unchanged`);
        continue;
      }
      const current = await http.json<KubeObject>({ method: 'GET', path: item });
      await http.json({ method: 'PUT', path: item, body: { ...obj, metadata: { ...obj.metadata, resourceVersion: current.metadata.resourceVersion } } });
      target.log(`${label(obj)} configured`);
    }
  }
}

export async function deleteObjects(objects: readonly KubeObject[], target: Target): Promise<void> {
  const http = new KubeHttp(loadKubeConfig(target.kubeconfig, target.context));
  for (const obj of objects) {
    try {
      await http.json({ method: 'DELETE', path: objectPaths(obj).item });
      target.log(`${label(obj)} deleted`);
    } catch (err) {
      if (!(err instanceof KubeHttpError && err.code === 404)) throw err;
    }
  }
}
