// ESLint (flat config): typescript-eslint's type-aware recommended rules on src/ and test/, and
// DESIGN.md's layering (scripts/eslint-layers.js). Formatting is Prettier's job, not ESLint's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import outpost from './scripts/eslint-layers.js';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'bench/', 'conformance/', 'examples/', 'scripts/', 'bin/', 'eslint.config.js'] },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      // One program for src/ and test/ (test/tsconfig.json includes both): a tsconfig per folder
      // made ESLint build and type-check src/ twice.
      parserOptions: { project: './test/tsconfig.json', tsconfigRootDir: import.meta.dirname },
    },
    plugins: { outpost },
    rules: {
      'outpost/layers': 'error',
      // A late binding read by a closure before its one assignment stays `let`.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // node:test's test()/describe() return promises the runner awaits itself.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] }] },
      ],
      // `_`-prefixed names are kept on purpose (a destructured field dropped, an interface's parameter).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // The house style writes `xs[i]!` on indexed access (ready for noUncheckedIndexedAccess), which
      // this rule calls unnecessary today: ~700 findings, none a bug.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // Off outside the control plane: api's validation and the API server read untyped JSON on purpose
      // (kind-module.ts's readers), and the data plane parses bytes. On in src/controlplane (below).
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-base-to-string': 'off',
      // `unknown | Promise<unknown>` documents that a handler may be async; async methods implement
      // interfaces whose other implementations await.
      '@typescript-eslint/no-redundant-type-constituents': 'off',
      '@typescript-eslint/require-await': 'off',
      // `.on('error', reject)` passes what Node emits; a cause on every rethrown error is a later pass.
      '@typescript-eslint/prefer-promise-reject-errors': 'off',
      'preserve-caught-error': 'off',
      'no-useless-assignment': 'off',
      // Methods taken off Node objects (process.binding) and handlers passed by reference.
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    // The control plane reads resources as the typed kinds of src/api (issue 17): the raw-record
    // readers that api's own validation uses (kinds/kind-module.ts) stay out of it.
    files: ['src/controlplane/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'error',
      '@typescript-eslint/no-unsafe-assignment': 'error',
      '@typescript-eslint/no-unsafe-argument': 'error',
      '@typescript-eslint/no-unsafe-return': 'error',
      '@typescript-eslint/no-unsafe-call': 'error',
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '(^|/)kind-module\\.js$',
              importNames: ['rec', 'arr', 'str', 'num'],
              message: 'read the typed kind from src/api/kinds (its type and default helpers), not a raw record',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // Tests poke at internals and malformed input on purpose.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/restrict-plus-operands': 'off',
    },
  },
);
