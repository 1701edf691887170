/**
 * `flywheel verify <verifier> --gold=<answer> --pred=<text>`: one verdict, for debugging a verifier (`--cases file.jsonl`:
 * many, with agreement; see verify-cases.ts). `--gold` is the
 * problem's reference: plain text becomes `{answer: text}`; a JSON object is used as it is (e.g. countdown's
 * `{"numbers": [...], "target": 24}` or code's `{"tests": "..."}`). `--pred` is the model output (`@file` reads one).
 */
import { readFileSync } from 'node:fs';
import OpenAI from 'openai';
import { closeSharedMathPool, createVerifier, verifierSpecSchema } from '../lib/verify/index.js';
import { UsageError } from './errors.js';
import { verifyCasesCommand } from './verify-cases.js';

export interface VerifyOptions {
  gold?: string;
  pred?: string;
  cases?: string;
  prompt?: string;
  option?: string[];
  json?: boolean;
}

function readArg(value: string): string {
  return value.startsWith('@') ? readFileSync(value.slice(1), 'utf8') : value;
}

/** `key=value` options of the verifier spec; values are JSON when they parse as JSON, else strings. */
function specOptions(pairs: string[] = []): Record<string, unknown> {
  return Object.fromEntries(
    pairs.map((pair) => {
      const i = pair.indexOf('=');
      if (i <= 0) throw new UsageError(`--option "${pair}": expected key=value`);
      const raw = pair.slice(i + 1);
      let value: unknown = raw;
      try {
        value = JSON.parse(raw);
      } catch {
        // a plain string
      }
      return [pair.slice(0, i), value];
    }),
  );
}

export async function verifyCommand(name: string, options: VerifyOptions) {
  const parsed = verifierSpecSchema.safeParse({ name, ...specOptions(options.option) });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `  ${i.path.join('.') || 'verifier'}: ${i.message}`);
    throw new UsageError(`verifier "${name}" with these options is not valid:\n${problems.join('\n')}`);
  }
  if (options.cases) {
    if (options.gold !== undefined || options.pred !== undefined) throw new UsageError('--cases reads gold and pred from the file: drop --gold and --pred');
    return verifyCasesCommand(name, specOptions(options.option), options.cases, options.json ?? false);
  }
  if (options.gold === undefined || options.pred === undefined) throw new UsageError('give --gold and --pred (one verdict), or --cases file.jsonl');
  const goldText = readArg(options.gold);
  let reference: unknown = { answer: goldText };
  if (/^\s*[{[]/.test(goldText)) {
    try {
      const json = JSON.parse(goldText);
      reference = Array.isArray(json) ? { answer: json } : json;
    } catch (err) {
      throw new UsageError(`--gold looks like JSON but does not parse: ${(err as Error).message}`);
    }
  }
  const openai =
    parsed.data.name === 'judge'
      ? new OpenAI({ baseURL: process.env.FLYWHEEL_MODEL_URL, apiKey: process.env.OPENAI_API_KEY ?? 'not-needed' })
      : undefined;
  const verifier = createVerifier(parsed.data, { openai });
  const verdict = await verifier
    .verify({ prompt: options.prompt ?? '', reference, text: readArg(options.pred) })
    .finally(closeSharedMathPool);
  const out = { verifier: verifier.name, version: verifier.version, ...verdict };
  if (options.json) process.stdout.write(`${JSON.stringify(out)}\n`);
  else {
    process.stdout.write(
      `${verdict.correct ? 'correct' : 'wrong'} · score ${verdict.score} · answer ${verdict.answer ?? '(none)'}\n${verdict.detail}\n` +
        `(${verifier.name}@${verifier.version})\n`,
    );
  }
  if (!verdict.correct) process.exitCode = 1;
}
