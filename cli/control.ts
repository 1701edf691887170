/** Operator messages to a running run: pause / unpause / stop signals, and the resumeRound update. */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { pauseSignal, resumeRoundUpdate, resumeSignal, stopSignal, workflowIds } from '../workflows/shared.js';
import { resolveConnections } from './connections.js';
import { connectClient } from './start.js';

const SIGNALS = { pause: pauseSignal, unpause: resumeSignal, stop: stopSignal } as const;

export async function controlCommand(name: keyof typeof SIGNALS, runId: string) {
  const c = resolveConnections();
  const client = await connectClient(c.temporal);
  try {
    await client.workflow.getHandle(workflowIds.run(runId)).signal(SIGNALS[name]);
    const said = { pause: 'paused (work in flight finishes first)', unpause: 'resumed', stop: 'stopping after its current stage' }[name];
    process.stdout.write(`run ${runId}: ${said}\n`);
  } finally {
    await client.connection.close();
  }
}

export async function resumeCommand(runId: string, options: { note?: string }) {
  const c = resolveConnections();
  const client = await connectClient(c.temporal);
  try {
    const result = await client.workflow
      .getHandle(workflowIds.run(runId))
      .executeUpdate(resumeRoundUpdate, { args: [{ note: options.note }] });
    process.stdout.write(`run ${runId}: round ${result.round} retries stage ${result.stage}\n`);
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) throw new Error(`cannot resume run ${runId}: ${err.cause?.message ?? err.message}`);
    const message = (err as Error).message ?? String(err);
    throw new Error(`cannot resume run ${runId}: ${message}`);
  } finally {
    await client.connection.close();
  }
}
