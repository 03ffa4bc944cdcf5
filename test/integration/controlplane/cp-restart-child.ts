// Child process for the control-plane restart test (not a test itself): hosts a ControlPlane on a
// SQLite store in its own process so the test can SIGKILL it.
//   node --import tsx cp-restart-child.ts DB PORT TOKEN
// Prints "listening URL" on stdout once proxies can subscribe; logs go to stderr.
import { openSqliteStore } from '../../../src/store/sqlite.js';
import { ControlPlane } from '../../../src/controlplane/control-plane.js';

const [dbPath, portArg, token] = process.argv.slice(2);
if (!dbPath || !portArg || !token) {
  process.stderr.write('usage: cp-restart-child.ts DB PORT TOKEN\n');
  process.exit(2);
}
const store = openSqliteStore(dbPath, { pollMs: 20 });
const cp = new ControlPlane({ store, port: Number(portArg), token, log: (line) => process.stderr.write(`${line}\n`) });
await cp.start();
process.stdout.write(`listening ${cp.distributionUrl}\n`);

// A graceful stop exists too, though the test's point is the SIGKILL.
process.once('SIGTERM', () => {
  void cp.stop().finally(() => {
    store.close();
    process.exit(0);
  });
});
