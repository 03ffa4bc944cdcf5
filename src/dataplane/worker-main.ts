// Entry of a worker process under `outpost proxy --concurrency N` (see workers.ts).
import { runWorker } from './workers.js';

await runWorker();
