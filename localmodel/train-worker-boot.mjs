// Worker entry when the server runs from TypeScript sources (tsx, vitest): worker threads do not inherit the
// parent's TypeScript loader, so register tsx in this thread before loading the worker module.
import { register } from 'tsx/esm/api';

register();
await import('./train-worker.ts');
