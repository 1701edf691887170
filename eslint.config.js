// Lint rules that protect what types cannot: floating promises, workflow code that must stay deterministic (no Node
// built-ins, no database or HTTP clients, activities imported as types only), and the layers of docs/architecture.md:
// lib/ is the domain and imports none of db/, activities/, workflows/, cli/; db/ imports no infra/ or cli/;
// activities/ and cli/ hold no SQL, and activities do not import one another.
import tseslint from 'typescript-eslint';

/** `../x/*` at any depth, for a folder of the project seen from inside another. */
const layer = (...folders) => folders.flatMap((f) => [`../${f}/*`, `../../${f}/*`, `../../../${f}/*`, `../${f}`, `../../${f}`]);

export default tseslint.config(
  { ignores: ['node_modules/**', '.flywheel/**', 'dist/**', 'coverage/**', 'test/histories/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*'], message: 'Workflow code is deterministic: no Node built-ins.' },
            { group: ['fs', 'path', 'os', 'crypto', 'child_process', 'http', 'https', 'net', 'events', 'url', 'util'], message: 'Workflow code is deterministic: no Node built-ins.' },
            { group: ['drizzle-orm', 'drizzle-orm/*', 'pg', 'openai', 'openai/*'], message: 'Workflows reach the outside world through activities only.' },
            { group: ['../activities/*', '../db/*', '../lib/*', '../localmodel/*', '../infra/*', '../cli/*'], message: 'Workflows import activities as types only (`import type`), and nothing else from the project but workflows/.', allowTypeImports: true },
          ],
        },
      ],
    },
  },
  {
    files: ['lib/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: layer('db', 'activities', 'workflows', 'cli'), message: 'lib/ is the domain: it imports none of db/, activities/, workflows/, cli/ (docs/architecture.md).' },
            { group: ['@temporalio/*'], message: 'lib/ knows nothing of Temporal (docs/architecture.md).' },
          ],
        },
      ],
    },
  },
  {
    files: ['db/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: layer('infra', 'cli', 'activities', 'workflows'), message: 'db/ owns queries: it imports no infra/, cli/, activities/ or workflows/ (docs/architecture.md).' }] },
      ],
    },
  },
  {
    files: ['cli/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['drizzle-orm', 'drizzle-orm/*', 'pg'], message: 'cli/ holds no SQL: put the query in db/ (docs/architecture.md).' }] },
      ],
    },
  },
  {
    files: ['activities/**/*.ts'],
    ignores: ['activities/index.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['drizzle-orm', 'drizzle-orm/*', 'pg'], message: 'Activities hold no SQL: put the query in db/ (docs/architecture.md).' },
            { group: ['../db/schema.js'], message: 'Activities hold no SQL: tables are used in db/ only.', allowTypeImports: true },
            { group: ['./*', '!./deps.js', '!./heartbeat.js', '!./adapt.js', '!./trainer-job.js'], message: 'An activity file imports no other activity file: shared logic lives in lib/ or db/.' },
            { group: layer('workflows', 'cli'), message: 'Activities import only types from workflows/ (the shared message and result types).', allowTypeImports: true },
          ],
        },
      ],
    },
  },
);
