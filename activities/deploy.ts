/**
 * The deploy stage: after a fine-tune and before anything samples with the new model, load its checkpoint into
 * every inference replica (lib/deploy) under its name (unique to run, round and job), wait until each one answers
 * to it, and unload this run's adapters that are neither the current model, the candidate, nor one of the
 * `deploy.keepAdapters` kept. Where it is served goes to `models.served_at`. A failure leaves the current model
 * served (nothing is unloaded before the candidate answers); after its retries the round waits for `resumeRound`.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { getRoundContext, mergeRoundStats } from '../db/rounds.js';
import { earlierCheckpointModels, getModel, recordDeploy } from '../db/runs.js';
import { DeployError } from '../lib/deploy/index.js';
import { adapterPrefix } from '../lib/train/command/from-config.js';
import { onThisWorker, type ActivityDeps } from './deps.js';
import { startHeartbeats } from './heartbeat.js';

export interface DeployModelResult {
  /** The round's model, the name requests address it by (what evaluate samples with). */
  model: string;
  /**
   * The names the replicas serve it under: the model's own name for adapters and restart scripts; the served base
   * name for `sglang-weights`, which swaps weights in place (SGLang answers any model name with them).
   */
  servedAs?: string[];
  /** Replicas it is served at; empty when there was nothing new to deploy. */
  replicas: string[];
  skipped: boolean;
}

export function deployActivities(deps: ActivityDeps) {
  return {
    async deployModel({ roundId }: { roundId: number }): Promise<DeployModelResult> {
      const heartbeats = startHeartbeats();
      try {
        const { db } = deps;
        const { run, round, config } = await getRoundContext(db, roundId);
        const name = round.model;
        if (!name) throw ApplicationFailure.nonRetryable(`round ${round.index} has no model to deploy: the fine-tune stage sets it`, 'NothingToDeploy');
        const deployer = onThisWorker(() => deps.deployer(config));
        const model = await getModel(db, run.id, name);
        // A round with nothing to train on keeps its starting model, which is already served (or is the base).
        if (!deployer || !model || model.round !== round.index || !model.checkpointPath) {
          await mergeRoundStats(db, roundId, { deploy: { skipped: deployer ? 'no new checkpoint in this round' : 'deploy.kind is none' } });
          return { model: name, replicas: [], skipped: true };
        }
        const keep = [
          ...new Set([run.currentModel, ...(await earlierCheckpointModels(db, run.id, round.index, config.deploy.keepAdapters))].filter((m): m is string => Boolean(m) && m !== name)),
        ];
        heartbeats.beat({ deploying: name });
        let result;
        try {
          result = await deployer.deploy({ model: name, checkpointPath: model.checkpointPath, keep, unloadPrefix: adapterPrefix(config.finetune.suffix, run.id) });
        } catch (err) {
          // Retried (a replica may be restarting); after the retries the round shows which replica said what.
          if (err instanceof DeployError) throw new Error(`${err.message}. The current model ${run.currentModel ?? run.baseModel} is still served.`);
          throw err;
        }
        const servedAs = [...new Set(result.replicas.map((r) => r.servedAs))];
        const unloaded = result.replicas.flatMap((r) => r.unloaded.map((u) => ({ name: u, replica: r.replica })));
        await recordDeploy(db, run.id, name, result.replicas.map((r) => r.replica), unloaded);
        const warnings = result.replicas.flatMap((r) => r.unloadErrors.map((e) => `${r.replica}: ${e}`));
        for (const w of warnings) deps.log(`deploy ${name}: could not unload ${w}`);
        await mergeRoundStats(db, roundId, {
          deploy: { kind: result.kind, model: name, servedAs, replicas: result.replicas.map((r) => r.replica), unloaded, ...(warnings.length ? { unloadErrors: warnings } : {}) },
        });
        deps.log(`deployed ${name} to ${result.replicas.length} replica(s) as ${servedAs.join(', ')}`);
        return { model: name, servedAs, replicas: result.replicas.map((r) => r.replica), skipped: false };
      } finally {
        heartbeats.stop();
      }
    },
  };
}
