// HPACK (RFC 7541): the Appendix C vectors decoded in sequence (dynamic table state and size after
// each block), Huffman strings of Appendix C, integer primitives (C.1), malformed input, and the
// encoder and decoder kept in step over many blocks with eviction.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HpackDecoder, HpackEncoder, HpackError, writeInt } from '../../../src/dataplane/http2/hpack.js';
import { huffmanDecode, huffmanEncode, huffmanLength } from '../../../src/dataplane/http2/huffman.js';
import { CONNECTION_SPECIFIC, fieldOk } from '../../../src/dataplane/http2/fields.js';

type Fields = Array<[string, string]>;

function decode(d: HpackDecoder, hex: string): Fields {
  const b = Buffer.from(hex, 'hex');
  const out: Fields = [];
  d.decode(b, 0, b.length, (n, v) => out.push([n, v]));
  return out;
}

const REQ1: Fields = [
  [':method', 'GET'],
  [':scheme', 'http'],
  [':path', '/'],
  [':authority', 'www.example.com'],
];
const REQ2: Fields = [...REQ1, ['cache-control', 'no-cache']];
const REQ3: Fields = [
  [':method', 'GET'],
  [':scheme', 'https'],
  [':path', '/index.html'],
  [':authority', 'www.example.com'],
  ['custom-key', 'custom-value'],
];
const RES1: Fields = [
  [':status', '302'],
  ['cache-control', 'private'],
  ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
  ['location', 'https://www.example.com'],
];
const RES2: Fields = [
  [':status', '307'],
  ['cache-control', 'private'],
  ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
  ['location', 'https://www.example.com'],
];
const RES3: Fields = [
  [':status', '200'],
  ['cache-control', 'private'],
  ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'],
  ['location', 'https://www.example.com'],
  ['content-encoding', 'gzip'],
  ['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'],
];

const SEQUENCES: Array<{ name: string; tableSize: number; blocks: Array<{ hex: string; fields: Fields; size: number }> }> = [
  {
    name: 'C.3 requests without Huffman',
    tableSize: 4096,
    blocks: [
      { hex: '828684410f7777772e6578616d706c652e636f6d', fields: REQ1, size: 57 },
      { hex: '828684be58086e6f2d6361636865', fields: REQ2, size: 110 },
      { hex: '828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565', fields: REQ3, size: 164 },
    ],
  },
  {
    name: 'C.4 requests with Huffman',
    tableSize: 4096,
    blocks: [
      { hex: '828684418cf1e3c2e5f23a6ba0ab90f4ff', fields: REQ1, size: 57 },
      { hex: '828684be5886a8eb10649cbf', fields: REQ2, size: 110 },
      { hex: '828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf', fields: REQ3, size: 164 },
    ],
  },
  {
    name: 'C.5 responses without Huffman, 256-byte table (eviction)',
    tableSize: 256,
    blocks: [
      {
        hex: '4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d',
        fields: RES1,
        size: 222,
      },
      { hex: '4803333037c1c0bf', fields: RES2, size: 222 },
      {
        hex: '88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076657273696f6e3d31',
        fields: RES3,
        size: 215,
      },
    ],
  },
  {
    name: 'C.6 responses with Huffman, 256-byte table (eviction)',
    tableSize: 256,
    blocks: [
      { hex: '488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3', fields: RES1, size: 222 },
      { hex: '4883640effc1c0bf', fields: RES2, size: 222 },
      {
        hex: '88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007',
        fields: RES3,
        size: 215,
      },
    ],
  },
];

for (const seq of SEQUENCES) {
  test(`RFC 7541 ${seq.name}: fields and table size after each block`, () => {
    const d = new HpackDecoder(seq.tableSize);
    seq.blocks.forEach((b, i) => {
      assert.deepEqual(decode(d, b.hex), b.fields, `block ${i + 1}`);
      assert.equal(d.tableSize, b.size, `table size after block ${i + 1}`);
    });
  });
}

test('RFC 7541 C.2: literal with indexing, without indexing, never indexed, indexed', () => {
  const d = new HpackDecoder();
  assert.deepEqual(decode(d, '400a637573746f6d2d6b65790d637573746f6d2d686561646572'), [['custom-key', 'custom-header']]);
  assert.equal(d.tableSize, 55);
  const d2 = new HpackDecoder();
  assert.deepEqual(decode(d2, '040c2f73616d706c652f70617468'), [[':path', '/sample/path']]);
  assert.equal(d2.tableSize, 0);
  assert.deepEqual(decode(d2, '100870617373776f726406736563726574'), [['password', 'secret']]);
  assert.equal(d2.tableSize, 0);
  assert.deepEqual(decode(d2, '82'), [[':method', 'GET']]);
});

test('RFC 7541 C.1 integers: 10 and 1337 with a 5-bit prefix, 42 with 8 bits', () => {
  const b = Buffer.alloc(8);
  assert.equal(b.subarray(0, writeInt(b, 0, 5, 0, 10)).toString('hex'), '0a');
  assert.equal(b.subarray(0, writeInt(b, 0, 5, 0, 1337)).toString('hex'), '1f9a0a');
  assert.equal(b.subarray(0, writeInt(b, 0, 8, 0, 42)).toString('hex'), '2a');
});

test('Huffman: Appendix C strings encode to the RFC bytes and decode back', () => {
  const cases: Array<[string, string]> = [
    ['www.example.com', 'f1e3c2e5f23a6ba0ab90f4ff'],
    ['no-cache', 'a8eb10649cbf'],
    ['custom-key', '25a849e95ba97d7f'],
    ['custom-value', '25a849e95bb8e8b4bf'],
    ['302', '6402'],
    ['private', 'aec3771a4b'],
    ['Mon, 21 Oct 2013 20:13:21 GMT', 'd07abe941054d444a8200595040b8166e082a62d1bff'],
    ['https://www.example.com', '9d29ad171863c78f0b97c8e9ae82ae43d3'],
  ];
  const scratch = Buffer.alloc(256);
  for (const [s, hex] of cases) {
    const out = Buffer.alloc(huffmanLength(s));
    assert.equal(huffmanEncode(s, out, 0), out.length);
    assert.equal(out.toString('hex'), hex, s);
    assert.equal(huffmanDecode(out, 0, out.length, scratch), s);
  }
  // Every octet round-trips.
  const all = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join('');
  const out = Buffer.alloc(huffmanLength(all));
  huffmanEncode(all, out, 0);
  assert.equal(huffmanDecode(out, 0, out.length, Buffer.alloc(1024)), all);
});

test('Huffman: EOS in the data, padding over 7 bits or not all ones are errors', () => {
  const scratch = Buffer.alloc(64);
  assert.equal(huffmanDecode(Buffer.from('ffffffff', 'hex'), 0, 4, scratch), undefined, 'EOS (30 ones)');
  assert.equal(huffmanDecode(Buffer.from('f1e3c2e5f23a6ba0ab90f4ffff', 'hex'), 0, 13, scratch), undefined, 'a whole byte of padding');
  assert.equal(huffmanDecode(Buffer.from('f1e3c2e5f23a6ba0ab90f4fe', 'hex'), 0, 12, scratch), undefined, 'padding with a zero bit');
});

test('malformed blocks: index 0, index beyond the table, truncated string, size update above the limit or after a field', () => {
  const bad = ['80', 'c0', '410f7777', '3fe21f', '823f01'];
  for (const hex of bad) {
    const d = new HpackDecoder(4096);
    assert.throws(() => decode(d, hex), HpackError, hex);
  }
  // A size update to 0 at the start of a block empties the table.
  const d = new HpackDecoder(4096);
  decode(d, '400a637573746f6d2d6b65790d637573746f6d2d686561646572');
  assert.deepEqual(decode(d, '2082'), [[':method', 'GET']]);
  assert.equal(d.tableSize, 0);
});

test('encoder and decoder stay in step over many blocks, with eviction and a lowered table size', () => {
  const enc = new HpackEncoder();
  const dec = new HpackDecoder(4096);
  const out = Buffer.alloc(64 * 1024);
  let total = 0;
  let rawTotal = 0;
  for (let i = 0; i < 500; i++) {
    if (i === 250) enc.setPeerMaxSize(512);
    const fields: Fields = [
      [':status', '200'],
      ['content-type', 'application/json'],
      ['x-upstream', `u${i % 7}`],
      ['server', 'outpost'],
      [`x-custom-${i % 40}`, `value-${i % 13}-${'z'.repeat(i % 50)}`],
      ['authorization', `Bearer ${i}`],
      ['x-request-id', `req-${i}`],
      ['content-length', String(i)],
    ];
    let p = enc.begin(out, 0);
    for (const [n, v] of fields) p = enc.field(out, p, n, v);
    const got: Fields = [];
    dec.decode(out, 0, p, (n, v) => got.push([n, v]));
    assert.deepEqual(got, fields, `block ${i}`);
    total += p;
    for (const [n, v] of fields) rawTotal += n.length + v.length;
  }
  assert.ok(total < rawTotal * 0.75, `indexing compresses (${total} of ${rawTotal} bytes)`);
  assert.ok(dec.tableSize <= 512, 'the lowered size reached the decoder');
});

test('never-indexed fields (authorization, cookie) are sent as never-indexed literals', () => {
  const enc = new HpackEncoder();
  const out = Buffer.alloc(256);
  const p = enc.field(out, 0, 'authorization', 'Bearer secret');
  assert.equal(out[0]! & 0xf0, 0x10, 'literal never indexed (0001xxxx)');
  const p2 = enc.field(out, p, 'authorization', 'Bearer secret');
  assert.equal(out[p]! & 0xf0, 0x10, 'still a literal the second time');
  assert.ok(p2 > p + 1);
});

test('fieldOk: the connection-specific names by length and comparison are CONNECTION_SPECIFIC exactly', () => {
  for (const name of CONNECTION_SPECIFIC) assert.equal(fieldOk(name, 'x'), false, name);
  for (const name of ['upgrades', 'connectio', 'keep-alivE', 'x-connection', 'te', 'transfer-encodin', 'http2-setting', 'proxy-connectio']) {
    assert.equal(fieldOk(name, 'x'), /^[a-z0-9-]+$/.test(name), name);
  }
  assert.equal(fieldOk(':path', '/a'), true);
  assert.equal(fieldOk('x-a', 'b\rc'), false);
});
