// Lint rules that protect what types cannot: floating promises, and workflow code that must stay deterministic
// (no Node built-ins, no database or HTTP clients, activities imported as types only).
import tseslint from 'typescript-eslint';

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
);
