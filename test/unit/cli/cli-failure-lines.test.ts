// The CLI's failure wording: -v/--v=N taken out of any verb's arguments (not after `--`), and one
// line for each kind of operational failure.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiError } from '../../../src/apiserver/client.js';
import { failureDetail, failureLine, takeVerbosity, verbosity } from '../../../src/cli/errors.js';
import { StoreUnavailableError } from '../../../src/store/integrity.js';

test('takeVerbosity: every spelling, anywhere before --, and nothing after it', () => {
  const cases: Array<[string[], string[], number]> = [
    [['get', 'pods'], ['get', 'pods'], 0],
    [['-v', '6', 'get', 'pods'], ['get', 'pods'], 6],
    [['get', 'pods', '--v=4'], ['get', 'pods'], 4],
    [['get', '-v3', 'pods'], ['get', 'pods'], 3],
    [['get', '--v', '2', 'pods'], ['get', 'pods'], 2],
    [['get', 'pods', '-v'], ['get', 'pods'], 1],
    [['exec', '-n', 'curl', '--', 'curl', '-v', 'http://x'], ['exec', '-n', 'curl', '--', 'curl', '-v', 'http://x'], 0],
  ];
  for (const [input, args, level] of cases) {
    assert.deepEqual(takeVerbosity(input), args, input.join(' '));
    assert.equal(verbosity(), level, input.join(' '));
  }
});

test('failureLine: one line per kind of failure, and the detail keeps the causes', () => {
  const status = (code: number, reason: string, message: string) => ({
    kind: 'Status' as const,
    apiVersion: 'v1' as const,
    metadata: {},
    status: 'Failure' as const,
    message,
    reason,
    code,
  });
  assert.equal(failureLine(new ApiError(status(404, 'NotFound', 'x "y" not found'))), 'Error from server (NotFound): x "y" not found');
  const reset = Object.assign(new Error('other side closed'), { code: 'ECONNRESET' });
  const lost = new ApiError(status(503, 'ServiceUnavailable', 'lost the connection to the outpost API'), { cause: reset, transport: true });
  assert.equal(failureLine(lost), 'outpost: lost the connection to the outpost API');
  assert.match(failureDetail(lost), /caused by: Error: other side closed[\s\S]*code ECONNRESET/);
  const fetchFailed = new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
  assert.match(failureLine(fetchFailed), /^outpost: lost the connection to the mesh \(ECONNREFUSED\): it may have stopped/);
  const store = new StoreUnavailableError('full', '/s/store.db', 'the disk holding the store file /s/store.db is full: free space there, then retry');
  assert.equal(failureLine(store), 'outpost: the disk holding the store file /s/store.db is full: free space there, then retry');
  assert.equal(failureLine(new Error('first\nsecond')), 'outpost: first');
});
