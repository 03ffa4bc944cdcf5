// SNI chain precedence for TLS passthrough: exact, then the longest `*.suffix`, then `*`, then the default chain.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SniRouter } from '../../../src/dataplane/l4/sni-router.js';
import { tlsListener, sniChain, tcpRoute } from '../../helpers/proxyconfig.js';

test('SNI precedence: exact > longest wildcard > * > default', () => {
  const r = new SniRouter(
    tlsListener('l', 443, [sniChain(['*.org'], 'org'), sniChain(['*.wikipedia.org'], 'wiki'), sniChain(['www.wikipedia.org'], 'www')], {
      defaultChain: tcpRoute('default'),
    }),
  );
  const c = (sni: string | undefined) => r.route(sni)?.clusters[0]!.cluster;
  assert.equal(c('www.wikipedia.org'), 'www');
  assert.equal(c('EN.Wikipedia.org'), 'wiki');
  assert.equal(c('example.org'), 'org');
  assert.equal(c('wikipedia.org'), 'org', 'a wildcard needs at least one label before the suffix');
  assert.equal(c('example.com'), 'default');
  assert.equal(c(undefined), 'default');
  const any = new SniRouter(tlsListener('l', 443, [sniChain(['*'], 'any')]));
  assert.equal(any.route('x.y')?.clusters[0]!.cluster, 'any');
  assert.equal(any.route(undefined), undefined);
});
