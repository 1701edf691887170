/**
 * The dataset card (`README.md`) of a parquet export, as the Hugging Face Hub reads it: YAML front matter that
 * names the data files, then the lineage of every row: run, rounds, models, filter config, verifier and version,
 * counts.
 */
import type { ExportLineage, RoundRange } from '../../db/export.js';

export interface CardInput {
  runId: string;
  runName: string;
  taskSet: string;
  baseModel: string;
  currentModel: string;
  rounds: RoundRange;
  kind: 'training set' | 'traces' | 'PRM step labels';
  rows: number;
  files: string[];
  columns: Array<{ name: string; type: string }>;
  lineage: ExportLineage;
  /** The PRM datasets exported (kind 'PRM step labels'). */
  prm?: Array<{ round: number; items: number; problems: number; filter: unknown }>;
  systemPrompt?: string;
  exportedAt: string;
}

const yamlString = (s: string) => JSON.stringify(s);

export function datasetCard(input: CardInput): string {
  const rounds = input.rounds.from === input.rounds.to ? `round ${input.rounds.from}` : `rounds ${input.rounds.from}–${input.rounds.to}`;
  const lines = [
    '---',
    'configs:',
    '- config_name: default',
    '  data_files:',
    '  - split: train',
    '    path: data/train-*.parquet',
    'tags:',
    '- flywheel',
    '- expert-iteration',
    '- synthetic',
    '- verified',
    `pretty_name: ${yamlString(`${input.runName} · ${input.kind} · ${rounds}`)}`,
    '---',
    '',
    `# ${input.runName}: ${input.kind} of ${rounds}`,
    '',
    input.kind === 'training set'
      ? `The verified reasoning traces that flywheel run \`${input.runId}\` trained its models on, one row per example (\`prompt\`, \`completion\`: TRL's prompt-completion layout).`
      : input.kind === 'PRM step labels'
        ? `The step labels of flywheel run \`${input.runId}\`'s step-level searches, one row per trace prefix (\`prompt\`, \`completions\` = its steps, \`labels\` = one per step: TRL's stepwise PRM layout; \`soft_labels\` = the share of verified rollouts through each step).`
        : `Every trace flywheel run \`${input.runId}\` sampled or searched, with its verdict, scores and the searches that chose it.`,
    '',
    '## Lineage',
    '',
    `- **Run:** \`${input.runId}\` (${input.runName}), task set \`${input.taskSet}\``,
    `- **Rounds:** ${input.rounds.from}–${input.rounds.to}`,
    `- **Base model:** \`${input.baseModel}\`; current (promoted) model: \`${input.currentModel}\``,
    `- **Verifier:** ${input.lineage.verifiers.map((v) => `\`${v.verifier}\` version \`${v.version}\` (${v.verdicts} verdicts)`).join(', ') || 'none'}`,
    `- **Rows:** ${input.rows} in ${input.files.length} file(s)`,
    ...(input.systemPrompt ? [`- **System prompt:** ${JSON.stringify(input.systemPrompt)}`] : []),
    `- **Exported:** ${input.exportedAt} by \`flywheel export\``,
    '',
  ];
  if (input.kind === 'PRM step labels') {
    lines.push('| PRM dataset of round | examples | problems | filter |', '|---|---|---|---|');
    for (const d of input.prm ?? []) lines.push(`| ${d.round} | ${d.items} | ${d.problems} | \`${JSON.stringify(d.filter)}\` |`);
  } else if (input.kind === 'training set') {
    lines.push('| training set of round | examples | problems | trained model | trained from | promoted | traces by sampled round |', '|---|---|---|---|---|---|---|');
    for (const d of input.lineage.datasets) {
      const byRound = d.tracesByRound ? Object.entries(d.tracesByRound).map(([r, n]) => `round ${r}: ${n}`).join(', ') : '—';
      lines.push(`| ${d.round} | ${d.items} | ${d.problems} | ${d.trainedModel ? `\`${d.trainedModel}\`` : '—'} | ${d.parentModel ? `\`${d.parentModel}\`` : '—'} | ${d.promoted === null ? '—' : d.promoted ? 'yes' : 'no'} | ${byRound} |`);
    }
    lines.push('', '### Filter config per round', '');
    for (const d of input.lineage.datasets) lines.push(`- round ${d.round}: \`${JSON.stringify(d.filter)}\``);
  } else {
    lines.push(`Traces: ${input.lineage.traces.total}, verified correct: ${input.lineage.traces.correct}.`);
  }
  lines.push('', '## Columns', '', '| column | type |', '|---|---|', ...input.columns.map((c) => `| \`${c.name}\` | ${c.type} |`), '');
  return lines.join('\n');
}
