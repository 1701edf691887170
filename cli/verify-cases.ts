/**
 * `flywheel verify <verifier> --cases file.jsonl`: a verifier judged on a user's own cases before GPU hours go into
 * it. Each line is `{"gold": ..., "pred": "...", "expected"?: true|false, "group"?: "...", "options"?: {...}}`;
 * `gold` is a reference as in `--gold` (text, or an object such as countdown's), `options` override the verifier's
 * options for that case. Prints each verdict, the agreement with `expected` (overall and per group), and the
 * disagreements; `--json` prints one object.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { closeSharedMathPool, createVerifier, verifierSpecSchema, type Verifier } from '../lib/verify/index.js';
import { UsageError } from './errors.js';

const caseSchema = z.strictObject({
  gold: z.union([z.string(), z.number(), z.record(z.string(), z.unknown()), z.array(z.unknown())]),
  pred: z.string(),
  expected: z.boolean().optional(),
  group: z.string().min(1).optional(),
  prompt: z.string().optional(),
  options: z.record(z.string(), z.unknown()).optional(),
});

type Case = z.infer<typeof caseSchema> & { line: number };

export function readCases(file: string): Case[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--cases ${file}: ${(err as Error).message}`);
  }
  const cases: Case[] = [];
  text.split('\n').forEach((raw, i) => {
    if (!raw.trim()) return;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (err) {
      throw new UsageError(`${file}:${i + 1}: not JSON (${(err as Error).message})`);
    }
    const parsed = caseSchema.safeParse(json);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'line'}: ${issue.message}`).join('; ');
      throw new UsageError(`${file}:${i + 1}: ${problems} (expected {"gold", "pred", "expected"?, "group"?, "options"?})`);
    }
    cases.push({ ...parsed.data, line: i + 1 });
  });
  if (cases.length === 0) throw new UsageError(`${file}: no cases (one JSON object per line)`);
  return cases;
}

function referenceOf(gold: Case['gold']): unknown {
  if (Array.isArray(gold)) return { answer: gold };
  return typeof gold === 'object' ? gold : { answer: gold };
}

interface Tally {
  cases: number;
  agreed: number;
  negatives: number;
  falseAccepts: number;
}

const tally = (): Tally => ({ cases: 0, agreed: 0, negatives: 0, falseAccepts: 0 });
const percent = (a: number, n: number) => (n === 0 ? '—' : `${((100 * a) / n).toFixed(1)}%`);

export async function verifyCasesCommand(name: string, baseOptions: Record<string, unknown>, file: string, json: boolean) {
  const cases = readCases(file);
  const verifiers = new Map<string, Verifier>();
  const verifierFor = (c: Case): Verifier => {
    const key = JSON.stringify(c.options ?? {});
    let verifier = verifiers.get(key);
    if (!verifier) {
      const spec = verifierSpecSchema.safeParse({ name, ...baseOptions, ...c.options });
      if (!spec.success) throw new UsageError(`${file}:${c.line}: options ${key} are not valid for verifier "${name}": ${z.prettifyError(spec.error).replace(/\n/g, '; ')}`);
      verifier = createVerifier(spec.data);
      verifiers.set(key, verifier);
    }
    return verifier;
  };
  for (const c of cases) verifierFor(c);
  const results = await Promise.all(
    cases.map(async (c) => {
      const verifier = verifierFor(c);
      try {
        const verdict = await verifier.verify({ prompt: c.prompt ?? '', reference: referenceOf(c.gold), text: c.pred });
        return { line: c.line, group: c.group ?? null, expected: c.expected ?? null, version: verifier.version, ...verdict };
      } catch (err) {
        return { line: c.line, group: c.group ?? null, expected: c.expected ?? null, version: verifier.version, score: 0, correct: false, answer: null, detail: `error: ${(err as Error).message}` };
      }
    }),
  ).finally(closeSharedMathPool);
  const overall = tally();
  const groups = new Map<string, Tally>();
  for (const r of results) {
    if (r.expected === null) continue;
    for (const t of [overall, groups.get(r.group ?? '') ?? groups.set(r.group ?? '', tally()).get(r.group ?? '')!]) {
      t.cases++;
      if (r.correct === r.expected) t.agreed++;
      if (!r.expected) {
        t.negatives++;
        if (r.correct) t.falseAccepts++;
      }
    }
  }
  const disagreements = results.filter((r) => r.expected !== null && r.correct !== r.expected);
  const summary = (t: Tally) => ({ ...t, agreement: t.cases ? t.agreed / t.cases : null, falseAcceptRate: t.negatives ? t.falseAccepts / t.negatives : null });
  if (json) {
    process.stdout.write(
      `${JSON.stringify({
        verifier: name,
        versions: [...new Set(results.map((r) => r.version))],
        ...summary(overall),
        groups: Object.fromEntries([...groups].filter(([g]) => g !== '').map(([g, t]) => [g, summary(t)])),
        disagreements,
        verdicts: results,
      })}\n`,
    );
  } else {
    for (const r of results) {
      const mark = r.expected === null ? ' ' : r.correct === r.expected ? '✓' : '✗';
      process.stdout.write(`${mark} ${file}:${r.line} ${r.correct ? 'correct' : 'wrong'} · answer ${r.answer ?? '(none)'}${r.group ? ` · ${r.group}` : ''}\n`);
    }
    if (groups.size > 1 || (groups.size === 1 && !groups.has(''))) {
      process.stdout.write('\ngroup                          agree  cases  agreement  false accepts\n');
      for (const [g, t] of groups) {
        process.stdout.write(`${(g || '(none)').padEnd(30)} ${String(t.agreed).padStart(6)} ${String(t.cases).padStart(6)} ${percent(t.agreed, t.cases).padStart(10)}  ${t.falseAccepts}/${t.negatives}\n`);
      }
    }
    process.stdout.write(
      `\n${name}@${[...verifiers.values()].map((v) => v.version).join(',')}: agrees on ${overall.agreed}/${overall.cases} (${percent(overall.agreed, overall.cases)}), ` +
        `accepts ${overall.falseAccepts}/${overall.negatives} non-equivalent (${percent(overall.falseAccepts, overall.negatives)})\n`,
    );
    for (const r of disagreements) {
      process.stdout.write(`  ${file}:${r.line} expected ${r.expected ? 'correct' : 'wrong'}, got ${r.correct ? 'correct' : 'wrong'}: ${r.detail.slice(0, 300)}\n`);
    }
  }
  if (disagreements.length > 0) process.exitCode = 1;
}
