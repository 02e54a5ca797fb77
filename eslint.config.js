// Lint: typescript-eslint's recommended type-aware rules; `any` is not allowed.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.history/', 'test/fixtures/recordings/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['eslint.config.js'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-control-regex': 'off', // XML character classes are control characters on purpose
    },
  },
  // Layer boundaries (README "Layout"): each folder imports only what is below it.
  {
    files: ['src/protocol/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['../*'], message: 'protocol/ imports nothing of privguard above it' }] }] },
  },
  {
    files: ['src/policy/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['../*', '!../protocol', '!../config'], message: 'policy/ is pure: it imports protocol/ and config/ types only' },
            { group: ['../config/*'], allowTypeImports: true, message: 'policy/ takes config/ types only' },
            { group: ['node:*'], message: 'policy/ is pure: no I/O' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/engine/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'node:net', message: 'engine/ has no sockets: the driver (proxy/session.ts) owns them' }],
          patterns: [{ group: ['../observe/*', '../proxy/*', '../cli*', '../index*'], message: 'engine/ emits effects; observe/ and proxy/ consume them' }],
        },
      ],
    },
  },
  {
    files: ['src/observe/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['../proxy/*', '../policy/*', '../cli*', '../index*'], message: 'observe/ consumes decision events; it decides nothing' },
            { group: ['../engine/*'], allowTypeImports: true, message: 'observe/ takes the engine\'s event types only' },
          ],
        },
      ],
    },
  },
  {
    files: ['eslint.config.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
