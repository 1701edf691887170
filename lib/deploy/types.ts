/** What a deploy step needs: load a new checkpoint into every inference replica, under a name unique to run and round. */

export interface DeployRequest {
  /** The name to serve the checkpoint under (unique to run, round and attempt). */
  model: string;
  /** The checkpoint directory, as the servers see it (a shared filesystem). */
  checkpointPath: string;
  /** Models that must stay served (the current model; older ones a config keeps). */
  keep: string[];
  /**
   * Adapters whose names start with this belong to this run: those neither kept nor the candidate are unloaded
   * (vLLM serves at most --max-loras at once). Adapters of other runs are never touched.
   */
  unloadPrefix?: string;
}

export interface ReplicaDeploy {
  replica: string;
  /** The name requests address the new model by on this replica. */
  servedAs: string;
  /** It was loaded by an earlier attempt already (a retried deploy). */
  alreadyLoaded: boolean;
  unloaded: string[];
  /** Adapters that should have been unloaded but could not be (a warning, not a failure). */
  unloadErrors: string[];
}

export interface DeployResult {
  kind: string;
  model: string;
  replicas: ReplicaDeploy[];
}

export interface Deployer {
  readonly kind: string;
  deploy(request: DeployRequest): Promise<DeployResult>;
}

/** A deploy that did not reach every replica: which replica and why, for each one that failed. */
export class DeployError extends Error {
  constructor(
    readonly model: string,
    readonly failures: Array<{ replica: string; reason: string; permanent?: boolean }>,
  ) {
    super(
      `deploying ${model} failed on ${failures.length} replica${failures.length === 1 ? '' : 's'}: ` +
        failures.map((f) => `${f.replica}: ${f.reason}`).join('; '),
    );
    this.name = 'DeployError';
  }

  /** A replica refused for good (a 4xx that another try will not change): retrying the deploy cannot help. */
  get permanent(): boolean {
    return this.failures.some((f) => f.permanent);
  }
}

/** One replica's failure, caught per replica and reported with the others. */
export class ReplicaError extends Error {
  constructor(
    readonly replica: string,
    message: string,
    /** The server's answer will not change on another try (a 4xx other than 408/409/429). */
    readonly permanent = false,
  ) {
    super(message);
    this.name = 'ReplicaError';
  }
}
