/**
 * A checkpoint directory of the embedded policy, as a trainer writes one for a real model: the weights
 * (`policy.json`) and the manifest flywheel reads (`manifest.json`: kind, files, base model). The server loads
 * such a directory as a LoRA adapter through vLLM's runtime route, and `flywheel train-policy` continues from one.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Policy, PolicyJson } from './policy.js';
import { BASE_MODEL, policyFromJson, policyToJson } from './policy.js';
import type { ValueHead, ValueJson } from './value.js';
import { valueFromJson, valueToJson } from './value.js';

export const WEIGHTS_FILE = 'policy.json';
export const CHECKPOINT_FORMAT = 'countdown-mlp';
/** A PRM checkpoint: the value head (`value.json`), beside the policy it was trained on when there is one. */
export const VALUE_FILE = 'value.json';
export const VALUE_FORMAT = 'countdown-state-value';

export interface PolicyManifest {
  kind: 'adapter';
  format: typeof CHECKPOINT_FORMAT | typeof VALUE_FORMAT;
  baseModel: string;
  files: string[];
  metrics?: Record<string, number>;
}

/** A checkpoint directory that cannot be loaded; the message says which file and why. */
export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/** Writes the weights, then the manifest (last, so a manifest means the weights are complete). */
export function writeCheckpoint(dir: string, policy: Policy, metrics: Record<string, number> = {}): PolicyManifest {
  mkdirSync(dir, { recursive: true });
  writeAtomic(path.join(dir, WEIGHTS_FILE), JSON.stringify(policyToJson(policy)));
  const manifest: PolicyManifest = { kind: 'adapter', format: CHECKPOINT_FORMAT, baseModel: BASE_MODEL, files: [WEIGHTS_FILE], metrics };
  writeAtomic(path.join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** Reads a checkpoint directory written by {@link writeCheckpoint} (or by any trainer that writes the same files). */
export function readCheckpoint(dir: string): { policy: Policy; manifest: PolicyManifest } {
  const manifestFile = path.join(dir, 'manifest.json');
  if (!existsSync(dir)) throw new CheckpointError(`the checkpoint directory ${dir} does not exist`);
  if (!existsSync(manifestFile)) throw new CheckpointError(`${dir} has no manifest.json; it is not a checkpoint directory`);
  let manifest: PolicyManifest;
  try {
    manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as PolicyManifest;
  } catch (err) {
    throw new CheckpointError(`${manifestFile} is not valid JSON: ${(err as Error).message}`);
  }
  if (manifest.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(`${manifestFile}: format is ${JSON.stringify(manifest.format)}; this server loads '${CHECKPOINT_FORMAT}' checkpoints`);
  }
  if (manifest.baseModel !== BASE_MODEL) {
    throw new CheckpointError(`${manifestFile}: the checkpoint is for base model '${manifest.baseModel}'; this server serves '${BASE_MODEL}'`);
  }
  const weightsFile = path.join(dir, WEIGHTS_FILE);
  let weights: PolicyJson;
  try {
    weights = JSON.parse(readFileSync(weightsFile, 'utf8')) as PolicyJson;
  } catch (err) {
    throw new CheckpointError(`cannot read ${weightsFile}: ${(err as Error).message}`);
  }
  try {
    return { policy: policyFromJson(weights), manifest };
  } catch (err) {
    throw new CheckpointError(`${weightsFile}: ${(err as Error).message}`);
  }
}

/** Writes a PRM checkpoint: the value head (and the policy beside it, when given), then the manifest. */
export function writeValueCheckpoint(dir: string, value: ValueHead, policy: Policy | null, metrics: Record<string, number> = {}): PolicyManifest {
  mkdirSync(dir, { recursive: true });
  writeAtomic(path.join(dir, VALUE_FILE), JSON.stringify(valueToJson(value)));
  const files = [VALUE_FILE];
  if (policy) {
    writeAtomic(path.join(dir, WEIGHTS_FILE), JSON.stringify(policyToJson(policy)));
    files.push(WEIGHTS_FILE);
  }
  const manifest: PolicyManifest = { kind: 'adapter', format: VALUE_FORMAT, baseModel: BASE_MODEL, files, metrics };
  writeAtomic(path.join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** Reads the value head of a checkpoint directory (a PRM checkpoint, or any with a `value.json`). */
export function readValueCheckpoint(dir: string): { value: ValueHead; policy: Policy | null } {
  const valueFile = path.join(dir, VALUE_FILE);
  if (!existsSync(dir)) throw new CheckpointError(`the checkpoint directory ${dir} does not exist`);
  if (!existsSync(valueFile)) throw new CheckpointError(`${dir} has no ${VALUE_FILE}; it is not a PRM checkpoint`);
  let value: ValueHead;
  try {
    value = valueFromJson(JSON.parse(readFileSync(valueFile, 'utf8')) as ValueJson);
  } catch (err) {
    throw new CheckpointError(`${valueFile}: ${(err as Error).message}`);
  }
  const weightsFile = path.join(dir, WEIGHTS_FILE);
  let policy: Policy | null = null;
  if (existsSync(weightsFile)) {
    try {
      policy = policyFromJson(JSON.parse(readFileSync(weightsFile, 'utf8')) as PolicyJson);
    } catch (err) {
      throw new CheckpointError(`${weightsFile}: ${(err as Error).message}`);
    }
  }
  return { value, policy };
}
