/**
 * Deploy clients: a new checkpoint reaches every inference replica before anything samples with it. Replicas are
 * deployed to in parallel; one that fails is named with its reason in a {@link DeployError}, and the current model
 * keeps being served (nothing is unloaded from a replica before its candidate answers).
 *
 * @example
 * const deployer = createDeployer({ kind: 'vllm-lora', replicas: ['http://gpu1:8000/v1', 'http://gpu2:8000/v1'] });
 * await deployer.deploy({ model: 'flywheel-run-r2', checkpointPath: '/shared/.../output', keep: ['flywheel-run-r1'], unloadPrefix: 'flywheel-run-' });
 */
import { deployCommand } from './command.js';
import { createReplicaClient, type ReplicaOptions } from './replica.js';
import { deploySglangLora, deploySglangWeights } from './sglang.js';
import { DeployError, ReplicaError, type DeployRequest, type DeployResult, type Deployer, type ReplicaDeploy } from './types.js';
import { deployVllmLora } from './vllm.js';

export type DeployKind = 'vllm-lora' | 'sglang-lora' | 'sglang-weights' | 'command';

export interface DeployerOptions extends ReplicaOptions {
  kind: DeployKind;
  /** OpenAI base URLs of the replicas, e.g. `http://gpu1:8000/v1`. */
  replicas: string[];
  /** `command`: the restart script template. */
  command?: string;
  /** Per replica, for the new model to show up. */
  timeoutMs?: number;
}

export function createDeployer(options: DeployerOptions): Deployer {
  if (options.replicas.length === 0) throw new Error('deploy: no replicas to deploy to (set deploy.replicas or model.baseUrls)');
  if (options.kind === 'command' && !options.command) throw new Error('deploy.kind: command needs deploy.command');
  const timeoutMs = options.timeoutMs ?? 600_000;
  const clients = options.replicas.map((url) => createReplicaClient(url, options));

  function deployOne(client: (typeof clients)[number], request: DeployRequest): Promise<ReplicaDeploy> {
    switch (options.kind) {
      case 'vllm-lora':
        return deployVllmLora(client, request, timeoutMs);
      case 'sglang-lora':
        return deploySglangLora(client, request);
      case 'sglang-weights':
        return deploySglangWeights(client, request, timeoutMs);
      case 'command':
        return deployCommand(client, request, options.command!, timeoutMs);
    }
  }

  return {
    kind: options.kind,
    async deploy(request: DeployRequest): Promise<DeployResult> {
      const settled = await Promise.allSettled(clients.map((client) => deployOne(client, request)));
      const failures = settled.flatMap((s, i) =>
        s.status === 'rejected'
          ? [{ replica: options.replicas[i]!, reason: s.reason instanceof ReplicaError ? s.reason.message : `${(s.reason as Error)?.message ?? s.reason}`, permanent: s.reason instanceof ReplicaError && s.reason.permanent }]
          : [],
      );
      if (failures.length) throw new DeployError(request.model, failures);
      return { kind: options.kind, model: request.model, replicas: settled.map((s) => (s as PromiseFulfilledResult<ReplicaDeploy>).value) };
    },
  };
}

export { DeployError, ReplicaError } from './types.js';
export type { DeployRequest, DeployResult, Deployer, ReplicaDeploy } from './types.js';
export { serverRoot } from './replica.js';

/**
 * The run config's `deploy` section as deployer options; `replicas` default to the model's (`embedded` resolved
 * by the caller to the embedded server's URL), the API key read from the variable the config names.
 */
export function deployerOptions(
  deploy: { kind: string; replicas?: string[]; command?: string; timeoutSeconds: number; apiKeyEnv?: string },
  modelReplicas: string[],
  env: NodeJS.ProcessEnv = process.env,
): DeployerOptions | null {
  if (deploy.kind === 'none') return null;
  return {
    kind: deploy.kind as DeployKind,
    replicas: deploy.replicas ?? modelReplicas,
    command: deploy.command,
    timeoutMs: deploy.timeoutSeconds * 1000,
    apiKey: deploy.apiKeyEnv ? env[deploy.apiKeyEnv] : undefined,
  };
}
