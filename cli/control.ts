/** Operator messages to a running run: pause / unpause / stop signals, and the resumeRound and raiseBudget updates. */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { pauseSignal, raiseBudgetProblem, raiseBudgetUpdate, resumeRoundUpdate, resumeSignal, stopSignal, workflowIds } from '../workflows/shared.js';
import { resolveConnections } from './connections.js';
import { UsageError } from './errors.js';
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

/** Parses `--max-cost` / `--max-tokens`: at least one, each a positive number (tokens whole). */
export function parseBudgetOptions(options: { maxCost?: string; maxTokens?: string }): { maxCost?: number; maxTokens?: number } {
  const limits: { maxCost?: number; maxTokens?: number } = {};
  if (options.maxCost !== undefined) limits.maxCost = Number(options.maxCost);
  if (options.maxTokens !== undefined) limits.maxTokens = Number(options.maxTokens);
  const problem = raiseBudgetProblem(limits);
  if (problem) throw new UsageError(`flywheel budget: ${problem.replace('raiseBudget', '--max-cost / --max-tokens')}`);
  return limits;
}

export async function budgetCommand(runId: string, options: { maxCost?: string; maxTokens?: string }) {
  const limits = parseBudgetOptions(options);
  const c = resolveConnections();
  const client = await connectClient(c.temporal);
  try {
    const result = await client.workflow.getHandle(workflowIds.run(runId)).executeUpdate(raiseBudgetUpdate, { args: [limits] });
    process.stdout.write(`run ${runId}: budget now ${JSON.stringify(result.budget)}; round ${result.round} checks stage ${result.stage} again\n`);
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) throw new Error(`cannot raise the budget of run ${runId}: ${err.cause?.message ?? err.message}`);
    throw new Error(`cannot raise the budget of run ${runId}: ${(err as Error).message ?? String(err)}`);
  } finally {
    await client.connection.close();
  }
}
