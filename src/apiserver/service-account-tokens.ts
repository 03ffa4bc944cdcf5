// Service account tokens as the Kubernetes API issues and reviews them: TokenRequest
// (POST …/serviceaccounts/NAME/token) returns a signed, audience-bound, expiring JWT, optionally
// bound to a Pod; TokenReview (POST /apis/authentication.k8s.io/v1/tokenreviews) says who a token
// is. A token stops being valid when its service account or bound pod is gone (uid checked), as
// bound tokens do. What `outpost controller` checks proxies' tokens with (as istiod does).
import { createPublicKey, generateKeyPairSync, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import type { KubeObject } from '../api/object.js';
import type { Store } from '../store/types.js';
import { HttpError } from './status.js';

const ISSUER = 'https://kubernetes.default.svc.cluster.local';
const DEFAULT_EXPIRATION_S = 3600;
const MIN_EXPIRATION_S = 600;

interface Claims {
  iss: string;
  sub: string;
  aud: string[];
  exp: number;
  iat: number;
  nbf: number;
  jti: string;
  'kubernetes.io': { namespace: string; serviceaccount: { name: string; uid: string }; pod?: { name: string; uid: string } };
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

export class ServiceAccountTokens {
  private readonly privateKey: KeyObject;
  private readonly publicKey: KeyObject;

  constructor(
    private readonly store: Store,
    key?: KeyObject,
  ) {
    this.privateKey = key ?? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    this.publicKey = createPublicKey(this.privateKey);
  }

  /** TokenRequest for service account `name` in `namespace`; `body` is the TokenRequest object. */
  request(namespace: string, name: string, body: unknown): KubeObject {
    const sa = this.store.get({ group: '', kind: 'ServiceAccount', namespace, name });
    if (!sa) throw new HttpError(404, 'NotFound', `serviceaccounts "${name}" not found`);
    const spec = ((body as { spec?: unknown } | null)?.spec ?? {}) as { audiences?: unknown; expirationSeconds?: unknown; boundObjectRef?: unknown };
    const audiences =
      Array.isArray(spec.audiences) && spec.audiences.every((a) => typeof a === 'string') && spec.audiences.length ? (spec.audiences as string[]) : [ISSUER];
    const expiration = spec.expirationSeconds === undefined ? DEFAULT_EXPIRATION_S : Number(spec.expirationSeconds);
    if (!Number.isInteger(expiration) || expiration < MIN_EXPIRATION_S) {
      throw new HttpError(
        422,
        'Invalid',
        `TokenRequest.authentication.k8s.io "${name}" is invalid: spec.expirationSeconds: Invalid value: ${JSON.stringify(spec.expirationSeconds)}: may not specify a duration less than 10 minutes`,
      );
    }
    let pod: { name: string; uid: string } | undefined;
    const bound = spec.boundObjectRef as { kind?: unknown; name?: unknown; uid?: unknown } | undefined;
    if (bound) {
      if (bound.kind !== 'Pod' || typeof bound.name !== 'string')
        throw new HttpError(422, 'Invalid', 'spec.boundObjectRef: only a Pod (kind Pod, name) is supported');
      const p = this.store.get({ group: '', kind: 'Pod', namespace, name: bound.name });
      if (!p) throw new HttpError(404, 'NotFound', `pods "${bound.name}" not found`);
      if (typeof bound.uid === 'string' && bound.uid && bound.uid !== p.metadata.uid)
        throw new HttpError(409, 'Conflict', `the UID in the bound object reference (${bound.uid}) does not match the UID in record (${p.metadata.uid})`);
      const podSa = (p.spec as { serviceAccountName?: string } | undefined)?.serviceAccountName ?? 'default';
      if (podSa !== name) throw new HttpError(400, 'BadRequest', `pod ${bound.name} is not bound to service account ${name}`);
      pod = { name: p.metadata.name, uid: p.metadata.uid ?? '' };
    }
    const now = Math.floor(Date.now() / 1000);
    const claims: Claims = {
      iss: ISSUER,
      sub: `system:serviceaccount:${namespace}:${name}`,
      aud: audiences,
      exp: now + expiration,
      iat: now,
      nbf: now,
      jti: randomUUID(),
      'kubernetes.io': { namespace, serviceaccount: { name, uid: sa.metadata.uid ?? '' }, ...(pod ? { pod } : {}) },
    };
    const signingInput = `${b64url(JSON.stringify({ alg: 'ES256', typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}`;
    const signature = sign('sha256', Buffer.from(signingInput), { key: this.privateKey, dsaEncoding: 'ieee-p1363' });
    return {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      metadata: { name, namespace, creationTimestamp: new Date(now * 1000).toISOString() },
      spec: { audiences, expirationSeconds: expiration, ...(bound ? { boundObjectRef: bound } : {}) },
      status: { token: `${signingInput}.${b64url(signature)}`, expirationTimestamp: new Date(claims.exp * 1000).toISOString() },
    };
  }

  /** TokenReview: `body` is the TokenReview object; the answer has its status filled. */
  review(body: unknown): KubeObject {
    const spec = ((body as { spec?: unknown } | null)?.spec ?? {}) as { token?: unknown; audiences?: unknown };
    const wanted = Array.isArray(spec.audiences) ? (spec.audiences as unknown[]).filter((a): a is string => typeof a === 'string') : [];
    const result = typeof spec.token === 'string' ? this.check(spec.token, wanted) : { error: 'no token given' };
    const status =
      'error' in result
        ? { authenticated: false, error: result.error }
        : {
            authenticated: true,
            user: {
              username: result.claims.sub,
              uid: result.claims['kubernetes.io'].serviceaccount.uid,
              groups: ['system:serviceaccounts', `system:serviceaccounts:${result.claims['kubernetes.io'].namespace}`, 'system:authenticated'],
              ...(result.claims['kubernetes.io'].pod
                ? {
                    extra: {
                      'authentication.kubernetes.io/pod-name': [result.claims['kubernetes.io'].pod.name],
                      'authentication.kubernetes.io/pod-uid': [result.claims['kubernetes.io'].pod.uid],
                    },
                  }
                : {}),
            },
            audiences: result.audiences,
          };
    return { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', metadata: { name: '' }, spec: { audiences: wanted }, status };
  }

  private check(token: string, wanted: string[]): { claims: Claims; audiences: string[] } | { error: string } {
    const parts = token.split('.');
    if (parts.length !== 3) return { error: 'not a JWT' };
    const ok = verify(
      'sha256',
      Buffer.from(`${parts[0]}.${parts[1]}`),
      { key: this.publicKey, dsaEncoding: 'ieee-p1363' },
      Buffer.from(parts[2]!, 'base64url'),
    );
    if (!ok) return { error: 'invalid signature' };
    let claims: Claims;
    try {
      claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Claims;
    } catch {
      return { error: 'malformed claims' };
    }
    const now = Math.floor(Date.now() / 1000);
    if (claims.exp <= now) return { error: 'token has expired' };
    const audiences = wanted.length ? wanted.filter((a) => claims.aud.includes(a)) : claims.aud;
    if (!audiences.length) return { error: 'token audiences do not match' };
    const k = claims['kubernetes.io'];
    const sa = this.store.get({ group: '', kind: 'ServiceAccount', namespace: k.namespace, name: k.serviceaccount.name });
    if (!sa || sa.metadata.uid !== k.serviceaccount.uid) return { error: `service account ${k.namespace}/${k.serviceaccount.name} has been deleted` };
    if (k.pod) {
      const pod = this.store.get({ group: '', kind: 'Pod', namespace: k.namespace, name: k.pod.name });
      if (!pod || pod.metadata.uid !== k.pod.uid) return { error: `pod ${k.namespace}/${k.pod.name} has been deleted` };
    }
    return { claims, audiences };
  }
}
