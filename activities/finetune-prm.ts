/**
 * The round's second learner: after the policy's fine-tune, train a process reward model on the round's PRM dataset
 * (stepwise JSONL from `search_steps`, built by the filter stage), record it in `models` as learner `prm` with its
 * lineage (parent PRM or policy, dataset, trainer job), measure it on held-out problems' step labels beside the run's
 * current PRM, and promote it by its own gate (balanced accuracy must not drop). The job is found again by its run, round
 * and learner tag, so a retried activity never submits twice. Backends: `openai` (the embedded server's
 * `method: {type: 'prm'}`) and `command` (`finetune.prm.command` on the stepwise JSONL through the policy's launcher,
 * its jobs under `<run>/round-<n>/prm/`; its checkpoint is deployed through `deploy` before it is measured).
 */
import { getDataset } from '../db/datasets.js';
import { heldOutStepLabels, streamPrmExamples, type PrmExample } from '../db/prm-dataset.js';
import { getRoundContext, mergeRoundStats } from '../db/rounds.js';
import { currentPrm, modelCheckpointPath, promotePrm } from '../db/runs.js';
import { stepLabelMetrics, type StepLabelMetrics } from '../lib/metrics/step-labels.js';
import { prmGate } from '../lib/round/prm-gate.js';
import { hashSeed } from '../lib/rng.js';
import type { RewardModelClient } from '../lib/search/reward-model.js';
import { adapterPrefix } from '../lib/train/command/from-config.js';
import { stepwiseLine } from '../lib/train/dataset.js';
import { resolveEndpoint, resolveRewardModel, type ActivityDeps } from './deps.js';
import { startHeartbeats } from './heartbeat.js';
import { runTrainerJob } from './trainer-job.js';

export interface FineTunePrmResult {
  model: string | null;
  jobId: string | null;
  promoted: boolean;
  skipped: boolean;
}

/** Held-out accuracy / AUC of a served PRM: each example's whole path scored against its last step's label. */
async function measure(prm: RewardModelClient, labels: readonly PrmExample[]): Promise<StepLabelMetrics & { requests: number }> {
  const rows: Array<{ score: number; label: boolean }> = [];
  let requests = 0;
  for (const example of labels) {
    const label = example.labels.at(-1);
    if (label === undefined) continue;
    const scored = await prm.score(example.prompt, [example.completions.join('\n')]);
    requests += scored.requests;
    rows.push({ score: scored.scores[0] ?? 0, label });
  }
  return { ...stepLabelMetrics(rows), requests };
}

export function fineTunePrmActivities(deps: ActivityDeps) {
  return {
    async fineTunePrm({ roundId }: { roundId: number }): Promise<FineTunePrmResult> {
      const heartbeats = startHeartbeats();
      try {
        const { db } = deps;
        const { run, round, config } = await getRoundContext(db, roundId);
        const prmConfig = config.finetune.prm;
        const skip = async (why: string) => {
          await mergeRoundStats(db, roundId, { prm: { skipped: why } });
          return { model: null, jobId: null, promoted: false, skipped: true };
        };
        if (!prmConfig.enabled) return skip('finetune.prm is not enabled');
        const dataset = await getDataset(db, run.id, round.index, 'prm');
        if (!dataset || dataset.items === 0) return skip('no step labels to train on');
        const endpoint = resolveEndpoint(deps, config.model);
        // The policy's trainer settings (workdir, launcher, env) with the PRM's backend and command line.
        const trainer = deps.trainer(
          { ...config, finetune: { ...config.finetune, backend: prmConfig.backend, ...(prmConfig.backend === 'command' ? { command: prmConfig.command } : {}) } },
          endpoint,
        );
        const incumbent = await currentPrm(db, run.id);
        // A PRM continues from the run's current PRM (its head), else starts on the round's policy.
        const baseModel = prmConfig.from === 'previous' && incumbent ? incumbent.name : (round.model ?? run.baseModel);
        const tag = { runId: run.id, round: round.index, learner: 'prm' as const };
        // A command trainer continues from the parent's checkpoint directory (a PRM's value.json, or a policy's).
        const continueFrom =
          baseModel !== run.baseModel ? { model: baseModel, checkpointPath: await modelCheckpointPath(db, run.id, baseModel) } : null;
        const { jobId, job } = await runTrainerJob(deps, heartbeats, {
          trainer,
          tag,
          dataset: {
            id: dataset.id,
            examples: () => streamPrmExamples(db, dataset.id),
            // The openai backend has no streamed stepwise export: it uploads the stepwise JSONL whole.
            line: stepwiseLine,
            // A command trainer gets the stepwise JSONL streamed to <run>/round-<n>/prm/train.jsonl.
            export: trainer.exportStepwise ? (examples) => trainer.exportStepwise!(tag, examples) : undefined,
            filename: `flywheel-${run.id}-round-${round.index}-prm.jsonl`,
          },
          baseModel,
          request: {
            hyperparameters: prmConfig.hyperparameters,
            suffix: prmConfig.suffix,
            seed: hashSeed(run.id, round.index, 'prm') % 2 ** 31,
            objective: 'prm',
            continueFrom,
          },
          baseUrl: endpoint.baseUrl,
          pollIntervalMs: config.finetune.pollIntervalMs,
          timeoutMinutes: config.finetune.timeoutMinutes,
          name: 'PRM trainer job',
        });
        // A checkpoint on disk (command backend) is served before it is measured: loaded into the deploy replicas
        // beside the current PRM (without a deploy, the config requires search.step.prm's endpoint to serve it by name).
        const deployer = job.checkpoint ? deps.deployer(config) : null;
        if (deployer && job.checkpoint) {
          const keep = [job.model, ...(incumbent ? [incumbent.name] : [])];
          await deployer.deploy({ model: job.model, checkpointPath: job.checkpoint.path, keep, unloadPrefix: adapterPrefix(prmConfig.suffix, run.id) });
        }

        // The gate: candidate and incumbent measured on the same held-out step labels, through the reward endpoint.
        const spec = config.search.step.prm ?? { url: `${endpoint.baseUrl.replace(/\/+$/, '')}/reward`, model: job.model, format: 'flywheel' as const };
        const served = (model: string) => resolveRewardModel(deps, { ...spec, model });
        const labels = await heldOutStepLabels(db, run.id, 2_000);
        const candidate = await measure(served(job.model), labels);
        const before = incumbent ? await measure(served(incumbent.name), labels) : null;
        const decision = prmGate(candidate, before, prmConfig.maxAccuracyDrop);
        if (decision.promoted) await promotePrm(db, run.id, job.model);
        const finite = (x: number) => (Number.isFinite(x) ? x : null);
        await mergeRoundStats(db, roundId, {
          prm: {
            jobId,
            model: job.model,
            baseModel,
            datasetId: dataset.id,
            heldOut: { accuracy: finite(candidate.accuracy), balancedAccuracy: finite(candidate.balancedAccuracy), auc: finite(candidate.auc), steps: candidate.steps, positives: candidate.positives },
            incumbent: before && incumbent ? { model: incumbent.name, accuracy: finite(before.accuracy), balancedAccuracy: finite(before.balancedAccuracy), auc: finite(before.auc) } : null,
            scorerCalls: candidate.requests + (before?.requests ?? 0),
            promoted: decision.promoted,
            reason: decision.reason,
          },
        });
        return { model: job.model, jobId, promoted: decision.promoted, skipped: false };
      } finally {
        heartbeats.stop();
      }
    },
  };
}
