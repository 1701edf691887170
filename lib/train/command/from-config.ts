/**
 * The run config's `finetune` section as command-trainer options, and `deploy` + `model` as deployer options: the
 * few lines the fine-tune activity and the deploy step need to build their clients.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { RunConfig } from '../../../config/schema.js';
import type { CommandTrainerOptions, LauncherOptions } from './trainer.js';

/** Where a config names a file or directory relative to itself (task files do the same). */
function fromConfigDir(configDir: string, p: string): string {
  return path.isAbsolute(p) ? p : path.resolve(configDir, p);
}

/**
 * @example
 * const trainer = createCommandTrainer(commandTrainerOptions(config.finetune, loaded.dir));
 */
export function commandTrainerOptions(finetune: RunConfig['finetune'], configDir: string, baseEnv: NodeJS.ProcessEnv = process.env): CommandTrainerOptions {
  if (finetune.backend !== 'command' || !finetune.command || !finetune.workdir) {
    throw new Error('finetune.backend: command needs finetune.command and finetune.workdir');
  }
  const { launcher } = finetune;
  let options: LauncherOptions;
  if (launcher.kind === 'slurm') {
    const { scriptTemplate, ...rest } = launcher;
    let text: string | undefined;
    if (scriptTemplate) {
      const file = fromConfigDir(configDir, scriptTemplate);
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        throw new Error(`finetune.launcher.scriptTemplate: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
      }
    }
    options = { ...rest, scriptTemplate: text };
  } else {
    options = launcher;
  }
  return {
    workdir: fromConfigDir(configDir, finetune.workdir),
    command: finetune.command,
    launcher: options,
    env: finetune.env,
    passEnv: finetune.passEnv,
    baseEnv,
  };
}

/**
 * The run config with the `finetune` paths (workdir, a Slurm script template) made absolute against the config's
 * folder, as `flywheel run` stores it: workers read the stored config from another directory (or machine).
 */
export function withAbsoluteFinetunePaths(config: RunConfig, configDir: string): RunConfig {
  const { finetune } = config;
  if (finetune.backend !== 'command') return config;
  const launcher =
    finetune.launcher.kind === 'slurm' && finetune.launcher.scriptTemplate
      ? { ...finetune.launcher, scriptTemplate: fromConfigDir(configDir, finetune.launcher.scriptTemplate) }
      : finetune.launcher;
  const workdir = finetune.workdir === undefined ? undefined : fromConfigDir(configDir, finetune.workdir);
  return { ...config, finetune: { ...finetune, workdir, launcher } };
}

/** The inference replicas of a run: `model.baseUrls`, else `model.baseUrl`. */
export function modelReplicas(model: RunConfig['model']): string[] {
  return model.baseUrls ?? [model.baseUrl];
}

/** Every adapter name of a run starts with this (see modelNameFor): what a deploy may unload. */
export function adapterPrefix(suffix: string, runId: string): string {
  return `${suffix}-${runId}-r`;
}
