// kubectl's typed commands (`kubectl create namespace`, `create configmap`, `create serviceaccount`)
// send Kubernetes protobuf. This decodes that envelope for the kinds whose content is metadata plus
// string maps; anything else gets 415 with a pointer to `kubectl apply -f`.
import type { KubeObject, ObjectMeta } from '../api/object.js';
import { HttpError } from './status.js';

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]); // "k8s\0"

interface Field {
  num: number;
  wire: number;
  value: bigint | Buffer;
}

function* fields(buf: Buffer): Generator<Field> {
  let i = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (i >= buf.length) throw new Error('truncated varint');
      const b = buf[i++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const num = key >>> 3;
    const wire = key & 7;
    if (wire === 0) yield { num, wire, value: varint() };
    else if (wire === 2) {
      const len = Number(varint());
      if (i + len > buf.length) throw new Error('truncated field');
      yield { num, wire, value: buf.subarray(i, i + len) };
      i += len;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
}

function str(v: bigint | Buffer): string {
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

function mapEntry(v: bigint | Buffer): [string, string] {
  let k = '';
  let val = '';
  if (Buffer.isBuffer(v))
    for (const f of fields(v)) {
      if (f.num === 1) k = str(f.value);
      else if (f.num === 2) val = str(f.value);
    }
  return [k, val];
}

function objectMeta(buf: Buffer): ObjectMeta {
  const meta: ObjectMeta = { name: '' };
  const labels: Record<string, string> = {};
  const annotations: Record<string, string> = {};
  for (const f of fields(buf)) {
    if (f.num === 1) meta.name = str(f.value);
    else if (f.num === 2) (meta as unknown as Record<string, unknown>).generateName = str(f.value);
    else if (f.num === 3) meta.namespace = str(f.value);
    else if (f.num === 6) meta.resourceVersion = str(f.value);
    else if (f.num === 11) {
      const [k, v] = mapEntry(f.value);
      labels[k] = v;
    } else if (f.num === 12) {
      const [k, v] = mapEntry(f.value);
      annotations[k] = v;
    }
  }
  if (Object.keys(labels).length) meta.labels = labels;
  if (Object.keys(annotations).length) meta.annotations = annotations;
  return meta;
}

export function isProtobuf(contentType: string | undefined): boolean {
  return !!contentType && /application\/vnd\.kubernetes\.protobuf/i.test(contentType);
}

/** The object in a protobuf request body (Namespace, ConfigMap, ServiceAccount). */
export function decodeProtobufObject(body: Buffer): KubeObject {
  if (body.length < 4 || !body.subarray(0, 4).equals(MAGIC))
    throw new HttpError(400, 'BadRequest', 'the protobuf body does not start with the Kubernetes envelope');
  let apiVersion = '';
  let kind = '';
  let raw: Buffer | undefined;
  try {
    for (const f of fields(body.subarray(4))) {
      if (f.num === 1 && Buffer.isBuffer(f.value)) {
        for (const tm of fields(f.value)) {
          if (tm.num === 1) apiVersion = str(tm.value);
          else if (tm.num === 2) kind = str(tm.value);
        }
      } else if (f.num === 2 && Buffer.isBuffer(f.value)) raw = f.value;
    }
    if (!raw) throw new Error('no object in the envelope');
    const obj: KubeObject = { apiVersion, kind, metadata: { name: '' } };
    const supported = apiVersion === 'v1' && (kind === 'Namespace' || kind === 'ConfigMap' || kind === 'ServiceAccount');
    if (!supported) {
      throw new HttpError(
        415,
        'UnsupportedMediaType',
        `outpost reads protobuf only for Namespaces, ConfigMaps and ServiceAccounts, not ${kind || 'this object'}: write it as YAML and use kubectl apply -f`,
      );
    }
    const data: Record<string, string> = {};
    for (const f of fields(raw)) {
      if (f.num === 1 && Buffer.isBuffer(f.value)) obj.metadata = objectMeta(f.value);
      else if (kind === 'ConfigMap' && f.num === 2) {
        const [k, v] = mapEntry(f.value);
        data[k] = v;
      }
    }
    if (kind === 'ConfigMap' && Object.keys(data).length) obj.data = data;
    return obj;
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new HttpError(400, 'BadRequest', `cannot decode the protobuf body: ${(err as Error).message}`);
  }
}
