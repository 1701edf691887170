/**
 * Math verifier throughput: verdicts per second on 10,000 mixed answers (boxed numbers, fractions, roots, symbolic
 * expressions, intervals, sets, relations, matrices, plain-number fallbacks, wrong answers), through the verifier
 * itself (worker-thread pool, time limit on), and the worst time of one verdict.
 *
 *   npx tsx bench/math-verify.ts [count]
 */
import { performance } from 'node:perf_hooks';
import { closeSharedMathPool, createVerifier } from '../lib/verify/index.js';

const TEMPLATES: Array<(i: number) => [string, string]> = [
  (i) => [`${i}`, `so the answer is \\boxed{${i}}.`],
  (i) => [`\\frac{${i}}{${i + 1}}`, `Hence $\\dfrac{${2 * i}}{${2 * i + 2}}$.`],
  (i) => [`${i + 2}\\sqrt{3}`, `\\boxed{\\sqrt{${3 * (i + 2) ** 2}}}`],
  (i) => [`x^2 + ${i}x`, `\\boxed{x(x + ${i})}`],
  (i) => [`(${i}, ${i + 3}]`, `The interval is $\\left(${i}, ${i + 3}\\right]$.`],
  (i) => [`\\{${i}, ${i + 1}\\}`, `\\boxed{\\{${i + 1}, ${i}\\}}`],
  (i) => [`${i}`, `We find $y = ${i}$.`],
  (i) => [`\\begin{pmatrix}${i} & 1 \\\\ 0 & ${i}\\end{pmatrix}`, `$\\begin{pmatrix}${i} & 1 \\\\ 0 & ${i}\\end{pmatrix}$`],
  (i) => [`${i * 1000 + 7}`, `She pays $${(i * 1000 + 7).toLocaleString('en-US')} in total.`],
  (i) => [`${i}`, `Final Answer: The final answer is ${i + 1}. I hope it is correct.`],
];

async function main() {
  const count = Number(process.argv[2] ?? 10_000);
  const verifier = createVerifier({ name: 'math' });
  const cases = Array.from({ length: count }, (_, i) => TEMPLATES[i % TEMPLATES.length]!(Math.floor(i / TEMPLATES.length) + 1));
  // Warm the pool (worker start and engine load are paid once per process, not per verdict).
  await Promise.all(Array.from({ length: 8 }, () => verifier.verify({ prompt: '', reference: { answer: '1' }, text: '\\boxed{1}' })));
  let worst = 0;
  let correct = 0;
  let errors = 0;
  const started = performance.now();
  await Promise.all(
    cases.map(async ([gold, text]) => {
      const t0 = performance.now();
      const verdict = await verifier.verify({ prompt: '', reference: { answer: gold }, text });
      worst = Math.max(worst, performance.now() - t0);
      if (verdict.correct) correct++;
      if (verdict.detail.startsWith('error:')) errors++;
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  // Worst single verdict without queueing: one at a time over one of each template.
  let worstAlone = 0;
  for (let k = 0; k < 50; k++) {
    const [gold, text] = TEMPLATES[k % TEMPLATES.length]!(k + 1);
    const t0 = performance.now();
    await verifier.verify({ prompt: '', reference: { answer: gold }, text });
    worstAlone = Math.max(worstAlone, performance.now() - t0);
  }
  await closeSharedMathPool();
  process.stdout.write(
    `${JSON.stringify({ verdicts: count, seconds: Number(seconds.toFixed(2)), perSecond: Math.round(count / seconds), correct, errors, worstQueuedMs: Math.round(worst), worstAloneMs: Math.round(worstAlone) })}\n`,
  );
}

void main();
