/**
 * Builds the workflow bundle (webpack + swc) and writes its code to the file named by the first argument. Run as a
 * child process by `flywheel worker` (cli/worker.ts), so the worker never loads the bundler: webpack's few hundred
 * MB of heap stay in a process that exits.
 */
import { writeFile } from 'node:fs/promises';
import { bundleWorkflowCode } from '@temporalio/worker';

const [out, workflowsPath] = process.argv.slice(2);
if (!out || !workflowsPath) {
  process.stderr.write('usage: bundle-workflows <out.js> <workflows/index.ts>\n');
  process.exit(2);
}
const silent = () => {};
const loud = (message: string) => void process.stderr.write(`workflow bundler: ${message}\n`);
const { code } = await bundleWorkflowCode({
  workflowsPath,
  logger: { log: silent, trace: silent, debug: silent, info: silent, warn: loud, error: loud },
});
await writeFile(out, code);
