// The CRD OpenAPI checks compiled into @kubernetes-models (patterns, bounds, lengths, oneOf),
// mapped to field issues. Only the kinds outpost serves are imported. Istio serves the same
// schema under v1, v1beta1 and v1alpha3, so the v1 validator checks all three.
import { ServiceEntry } from '@kubernetes-models/istio/networking.istio.io/v1/ServiceEntry';
import { Gateway as IstioGateway } from '@kubernetes-models/istio/networking.istio.io/v1/Gateway';
import { VirtualService } from '@kubernetes-models/istio/networking.istio.io/v1/VirtualService';
import { DestinationRule } from '@kubernetes-models/istio/networking.istio.io/v1/DestinationRule';
import { Sidecar } from '@kubernetes-models/istio/networking.istio.io/v1/Sidecar';
import { AuthorizationPolicy } from '@kubernetes-models/istio/security.istio.io/v1/AuthorizationPolicy';
import { PeerAuthentication } from '@kubernetes-models/istio/security.istio.io/v1/PeerAuthentication';
import { validate as validateGatewayClass } from '@kubernetes-models/gateway-api/_schemas/IoK8sSigsGatewayApiApisV1GatewayClass';
import { validate as validateGateway } from '@kubernetes-models/gateway-api/_schemas/IoK8sSigsGatewayApiApisV1Gateway';
import { validate as validateHttpRoute } from '@kubernetes-models/gateway-api/_schemas/IoK8sSigsGatewayApiApisV1HTTPRoute';
import { validate as validateGrpcRoute } from '@kubernetes-models/gateway-api/_schemas/IoK8sSigsGatewayApiApisV1GRPCRoute';
import { validate as validateTlsRoute } from '@kubernetes-models/gateway-api/_schemas/IoK8sSigsGatewayApiApisV1alpha2TLSRoute';
import { validate as validateTcpRoute } from '@kubernetes-models/gateway-api/_schemas/IoK8sSigsGatewayApiApisV1alpha2TCPRoute';
import { validate as validateReferenceGrant } from '@kubernetes-models/gateway-api/_schemas/IoK8sSigsGatewayApiApisV1beta1ReferenceGrant';
import type { IssueList } from '../field-issue.js';
import { pointerToSegments, type PathSegment } from '../field-path.js';

interface AjvError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}
type Check = (obj: Record<string, unknown>) => AjvError[];

function modelCheck(Model: new (data: never) => { validate(): void }): Check {
  return (obj) => {
    try {
      new Model(obj as never).validate();
      return [];
    } catch (err) {
      const errors = (err as { errors?: AjvError[] }).errors;
      return Array.isArray(errors) ? errors : [];
    }
  };
}

function fnCheck(fn: ((data: unknown) => boolean) & { errors?: AjvError[] | null }): Check {
  return (obj) => (fn(obj) ? [] : [...(fn.errors ?? [])]);
}

const CHECKS: Record<string, Check> = {
  'networking.istio.io/ServiceEntry': modelCheck(ServiceEntry as never),
  'networking.istio.io/Gateway': modelCheck(IstioGateway as never),
  'networking.istio.io/VirtualService': modelCheck(VirtualService as never),
  'networking.istio.io/DestinationRule': modelCheck(DestinationRule as never),
  'networking.istio.io/Sidecar': modelCheck(Sidecar as never),
  'security.istio.io/AuthorizationPolicy': modelCheck(AuthorizationPolicy as never),
  'security.istio.io/PeerAuthentication': modelCheck(PeerAuthentication as never),
  'gateway.networking.k8s.io/GatewayClass': fnCheck(validateGatewayClass as never),
  'gateway.networking.k8s.io/Gateway': fnCheck(validateGateway as never),
  'gateway.networking.k8s.io/HTTPRoute': fnCheck(validateHttpRoute as never),
  'gateway.networking.k8s.io/GRPCRoute': fnCheck(validateGrpcRoute as never),
  'gateway.networking.k8s.io/TLSRoute': fnCheck(validateTlsRoute as never),
  'gateway.networking.k8s.io/TCPRoute': fnCheck(validateTcpRoute as never),
  'gateway.networking.k8s.io/ReferenceGrant': fnCheck(validateReferenceGrant as never),
};

export function hasModelCheck(groupKind: string): boolean {
  return groupKind in CHECKS;
}

function valueAt(obj: unknown, path: readonly PathSegment[]): unknown {
  let cur: unknown = obj;
  for (const s of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[s];
  }
  return cur;
}

/**
 * Runs the model's schema check on `obj` (apiVersion rewritten to the modelled version) and adds
 * what the structural check has not already said about the same field.
 */
export function checkWithModel(groupKind: string, modelApiVersion: string, obj: Record<string, unknown>, out: IssueList): void {
  const check = CHECKS[groupKind];
  if (!check) return;
  const errors = check({ ...obj, apiVersion: modelApiVersion });
  for (const e of errors) {
    let segs = pointerToSegments(e.instancePath);
    if (segs[0] === 'apiVersion' || segs[0] === 'kind' || segs[0] === 'status') continue;
    if (e.keyword === 'required') segs = [...segs, String(e.params['missingProperty'])];
    if (out.hasErrorAt(segs)) continue;
    const v = valueAt(obj, segs);
    switch (e.keyword) {
      case 'required':
        out.required(segs);
        break;
      case 'enum':
        out.unsupported(segs, v, (e.params['allowedValues'] as string[]) ?? []);
        break;
      case 'type':
        out.wrongType(segs, v, String(e.params['type']));
        break;
      case 'minimum':
        out.invalid(segs, v, `must be greater than or equal to ${String(e.params['limit'])}`);
        break;
      case 'maximum':
        out.invalid(segs, v, `must be less than or equal to ${String(e.params['limit'])}`);
        break;
      case 'exclusiveMinimum':
        out.invalid(segs, v, `must be greater than ${String(e.params['limit'])}`);
        break;
      case 'exclusiveMaximum':
        out.invalid(segs, v, `must be less than ${String(e.params['limit'])}`);
        break;
      case 'pattern':
        out.invalid(segs, v, `must match the regular expression ${JSON.stringify(e.params['pattern'])}`);
        break;
      case 'minLength':
        out.invalid(segs, v, `must be at least ${String(e.params['limit'])} characters long`);
        break;
      case 'maxLength':
        out.add(segs, 'FieldValueInvalid', `too long: must have at most ${String(e.params['limit'])} characters`);
        break;
      case 'minItems':
        out.required(segs, `must have at least ${String(e.params['limit'])} item${e.params['limit'] === 1 ? '' : 's'}`);
        break;
      case 'maxItems':
        out.add(segs, 'FieldValueInvalid', `too many: must have at most ${String(e.params['limit'])} items`);
        break;
      case 'minProperties':
        out.required(segs, `must have at least ${String(e.params['limit'])} entries`);
        break;
      case 'maxProperties':
        out.add(segs, 'FieldValueInvalid', `too many: must have at most ${String(e.params['limit'])} entries`);
        break;
      case 'uniqueItems':
        out.duplicate(segs, v, 'items must be unique');
        break;
      case 'oneOf':
        out.invalid(segs, v, 'exactly one of the alternative fields must be set');
        break;
      case 'anyOf':
      case 'not':
        out.invalid(segs, v, 'this combination of fields is not allowed');
        break;
      case 'format':
        out.invalid(segs, v, `must be a valid ${String(e.params['format'])}`);
        break;
      default:
        out.invalid(segs, v, e.message ?? `fails the schema rule "${e.keyword}"`);
    }
  }
}
