// The proxy's AuthorizationPolicy evaluation on its own: Istio's string forms, not-forms, IP blocks,
// the order DENY → ALLOW, AUDIT and dry-run, and how HTTP-only fields behave on TCP connections.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Authorizer, type AuthzAttributes } from '../../../src/dataplane/authz/engine.js';
import type { AuthorizationPolicyRule } from '../../../src/proxyconfig/types.js';

const CURL = 'cluster.local/ns/curl/sa/curl';

function http(o: Partial<AuthzAttributes> & { host?: string; method?: string; path?: string; headers?: Record<string, string> } = {}): AuthzAttributes {
  const headers = o.headers ?? {};
  return {
    principal: 'principal' in o ? o.principal : CURL,
    sourceIp: o.sourceIp ?? '10.1.2.3',
    destinationIp: '127.0.0.1',
    destinationPort: o.destinationPort ?? 8080,
    sni: o.sni,
    http: { host: o.host ?? 'httpbin.org', method: o.method ?? 'GET', path: o.path ?? '/get', header: (n) => headers[n] },
  };
}

function tcp(o: Partial<AuthzAttributes> = {}): AuthzAttributes {
  return { principal: CURL, sourceIp: '10.1.2.3', destinationIp: '127.0.0.1', destinationPort: 8443, sni: 'httpbin.org', ...o };
}

const allow = (name: string, rules: AuthorizationPolicyRule['rules']): AuthorizationPolicyRule => ({ name: `ns[gw]-policy[${name}]`, action: 'ALLOW', rules });
const deny = (name: string, rules: AuthorizationPolicyRule['rules']): AuthorizationPolicyRule => ({ name: `ns[gw]-policy[${name}]`, action: 'DENY', rules });

test('no policies or only DENY policies that do not match: allowed; ALLOW present and none matching: [none]', () => {
  assert.equal(new Authorizer({ policies: [] }).evaluate(http()).allowed, true);
  assert.equal(new Authorizer({ policies: [deny('d', [{ from: [{ principals: ['x/ns/y/sa/z'] }] }])] }).evaluate(http()).allowed, true);
  const v = new Authorizer({ policies: [allow('a', [{ from: [{ principals: ['x/ns/y/sa/z'] }] }])] }).evaluate(http());
  assert.deepEqual([v.allowed, v.details], [false, 'rbac_access_denied_matched_policy[none]']);
});

test('string forms: exact, prefix*, *suffix, * (non-empty); hosts case-insensitive and without port; paths without query', () => {
  const a = (rules: AuthorizationPolicyRule['rules'], attrs: AuthzAttributes) => new Authorizer({ policies: [allow('a', rules)] }).evaluate(attrs).allowed;
  assert.equal(a([{ from: [{ principals: ['cluster.local/ns/curl/*'] }] }], http()), true);
  assert.equal(a([{ from: [{ principals: ['*/sa/curl'] }] }], http()), true);
  assert.equal(a([{ from: [{ principals: ['*'] }] }], http({ principal: undefined })), false, '* needs an authenticated peer');
  assert.equal(a([{ to: [{ hosts: ['HTTPBIN.ORG'] }] }], http({ host: 'httpbin.org:80' })), true);
  assert.equal(a([{ to: [{ hosts: ['*.org'] }] }], http()), true);
  assert.equal(a([{ to: [{ paths: ['/get'] }] }], http({ path: '/get?a=1' })), true);
  assert.equal(a([{ to: [{ notPaths: ['/admin*'] }] }], http({ path: '/admin/x' })), false);
  assert.equal(a([{ to: [{ methods: ['GET'], notMethods: ['POST'] }] }], http({ method: 'GET' })), true);
  assert.equal(a([{ to: [{ ports: ['8080'] }] }], http({ destinationPort: 9090 })), false);
  assert.equal(a([{ to: [{ notPorts: ['9090'] }] }], http({ destinationPort: 8080 })), true);
});

test('sources: namespaces from the principal, notPrincipals, ipBlocks and remoteIpBlocks (CIDR and single IP, IPv4-mapped)', () => {
  const a = (rules: AuthorizationPolicyRule['rules'], attrs: AuthzAttributes) => new Authorizer({ policies: [allow('a', rules)] }).evaluate(attrs).allowed;
  assert.equal(a([{ from: [{ namespaces: ['curl'] }] }], http()), true);
  assert.equal(a([{ from: [{ notNamespaces: ['curl'] }] }], http()), false);
  assert.equal(a([{ from: [{ notPrincipals: [CURL] }] }], http()), false);
  assert.equal(a([{ from: [{ ipBlocks: ['10.0.0.0/8'] }] }], http()), true);
  assert.equal(a([{ from: [{ ipBlocks: ['10.1.2.3'] }] }], http({ sourceIp: '::ffff:10.1.2.3' })), true);
  assert.equal(a([{ from: [{ notRemoteIpBlocks: ['10.0.0.0/8'] }] }], http()), false);
  // Several sources: any may match; fields of one source must all hold.
  assert.equal(a([{ from: [{ namespaces: ['x'] }, { principals: [CURL], ipBlocks: ['10.0.0.0/8'] }] }], http()), true);
  assert.equal(a([{ from: [{ principals: [CURL], ipBlocks: ['192.168.0.0/16'] }] }], http()), false);
});

test('when: request.headers (case-insensitive name), source.*, destination.port, connection.sni, notValues; bad keys are a config error', () => {
  const a = (rules: AuthorizationPolicyRule['rules'], attrs: AuthzAttributes) => new Authorizer({ policies: [allow('a', rules)] }).evaluate(attrs).allowed;
  assert.equal(a([{ when: [{ key: 'request.headers[X-Team]', values: ['a*'] }] }], http({ headers: { 'x-team': 'alpha' } })), true);
  assert.equal(a([{ when: [{ key: 'request.headers[x-team]', notValues: ['alpha'] }] }], http({ headers: { 'x-team': 'alpha' } })), false);
  assert.equal(
    a(
      [
        {
          when: [
            { key: 'source.namespace', values: ['curl'] },
            { key: 'destination.port', values: ['8080'] },
          ],
        },
      ],
      http(),
    ),
    true,
  );
  assert.equal(a([{ when: [{ key: 'source.ip', values: ['10.1.0.0/16'] }] }], http()), true);
  assert.equal(a([{ when: [{ key: 'connection.sni', values: ['*.example.com'] }] }], http({ sni: 'httpbin.org' })), false);
  assert.throws(
    () => new Authorizer({ policies: [allow('a', [{ when: [{ key: 'request.auth.claims[iss]', values: ['x'] }] }])] }),
    /condition key "request\.auth\.claims\[iss\]" is not supported/,
  );
  assert.throws(
    () => new Authorizer({ policies: [allow('a', [{ from: [{ ipBlocks: ['10.0.0.0/40'] }] }])] }),
    /"10\.0\.0\.0\/40" is not an IP address or CIDR/,
  );
});

test('DENY before ALLOW with the rule index in the details; AUDIT and dry-run never decide', () => {
  const v = new Authorizer({ policies: [allow('a', [{}]), deny('d', [{ to: [{ methods: ['POST'] }] }, { from: [{ namespaces: ['curl'] }] }])] }).evaluate(
    http(),
  );
  assert.deepEqual([v.allowed, v.details], [false, 'rbac_access_denied_matched_policy[ns[gw]-policy[d]-rule[1]]']);
  const audit = new Authorizer({ policies: [{ name: 'ns[gw]-policy[au]', action: 'AUDIT', rules: [{}] }] }).evaluate(http());
  assert.deepEqual([audit.allowed, audit.audited], [true, true]);
  const dry = new Authorizer({ policies: [{ ...deny('d', [{}]), dryRun: true }] }).evaluate(http());
  assert.deepEqual([dry.allowed, dry.shadowDenied], [true, true]);
});

test('TCP connections: HTTP-only fields never match in ALLOW rules and always match in DENY rules', () => {
  assert.equal(new Authorizer({ policies: [allow('a', [{ to: [{ methods: ['GET'] }] }])] }).evaluate(tcp()).allowed, false);
  assert.equal(new Authorizer({ policies: [allow('a', [{ to: [{ ports: ['8443'] }] }])] }).evaluate(tcp()).allowed, true);
  assert.equal(new Authorizer({ policies: [deny('d', [{ to: [{ paths: ['/admin'] }] }])] }).evaluate(tcp()).allowed, false);
  assert.equal(new Authorizer({ policies: [deny('d', [{ when: [{ key: 'request.headers[x]', values: ['1'] }] }])] }).evaluate(tcp()).allowed, false);
  assert.equal(new Authorizer({ policies: [allow('a', [{ when: [{ key: 'connection.sni', values: ['httpbin.org'] }] }])] }).evaluate(tcp()).allowed, true);
});
