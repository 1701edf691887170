export { createCommandTrainer, createLauncher, modelNameFor } from './trainer.js';
export type { CommandTrainerOptions, LauncherOptions } from './trainer.js';
export { TEMPLATE_VARIABLES, renderTemplate, shellQuote, templateEnv, unknownPlaceholders } from './template.js';
export type { TemplateValues, TemplateVariable } from './template.js';
export { jobIdFor, parseJobId } from './jobdir.js';
export type { JobRecord, LauncherKind } from './jobdir.js';
export { parseScontrolJob, slurmComment } from './slurm.js';
export type { SlurmLauncherOptions } from './slurm.js';
export type { TemplatesLauncherOptions } from './templates.js';
