/**
 * The checkpoint manifest a successful trainer job leaves in its output directory (`manifest.json`): what was
 * written (a LoRA adapter or full weights), which files, and the base model it belongs to. A job that exits 0
 * without one did not produce a model.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

export const MANIFEST_FILE = 'manifest.json';

export const checkpointManifestSchema = z.object({
  /** `adapter`: LoRA weights served on top of `baseModel`; `full`: a whole model. */
  kind: z.enum(['adapter', 'full']),
  /** Files of the checkpoint, relative to its directory. */
  files: z.array(z.string().min(1)).min(1),
  baseModel: z.string().min(1),
  /** The weights' format, e.g. `peft`, `hf`, `countdown-mlp`. */
  format: z.string().min(1).optional(),
  /** Anything else the trainer wants kept (final loss, tokens, ...). */
  metrics: z.record(z.string(), z.number()).optional(),
});

export type CheckpointManifest = z.infer<typeof checkpointManifestSchema>;

/** Why a checkpoint directory holds no valid manifest, or the manifest. */
export function readManifest(dir: string): { manifest: CheckpointManifest } | { error: string } {
  const file = path.join(dir, MANIFEST_FILE);
  if (!existsSync(file)) return { error: `the trainer wrote no ${MANIFEST_FILE} in ${dir}` };
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    return { error: `${file} is not valid JSON: ${(err as Error).message}` };
  }
  const parsed = checkpointManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { error: `${file}: ${issue.path.join('.') || '(manifest)'}: ${issue.message}` };
  }
  for (const name of parsed.data.files) {
    const resolved = path.resolve(dir, name);
    if (!resolved.startsWith(path.resolve(dir) + path.sep)) return { error: `${file}: file '${name}' is outside the checkpoint directory` };
    if (!existsSync(resolved)) return { error: `${file} lists '${name}', which is not in ${dir}` };
  }
  return { manifest: parsed.data };
}
