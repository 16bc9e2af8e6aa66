// ESM TypeScript under jest: swc emits ES modules, Node runs them with --experimental-vm-modules.
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
        module: { type: 'es6' },
        sourceMaps: 'inline',
      },
    ],
  },
  moduleNameMapper: {
    '^@netflicks/(contracts|recsys|data|db|platform|mlflow|charts)$': '<rootDir>/packages/$1/src/index.ts',
    '^@netflicks/(simulator|ingest|online-evaluator|recommend-api|trainer)$': '<rootDir>/services/$1/src/index.ts',
    '^@netflicks/operator$': '<rootDir>/operator/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testMatch: ['<rootDir>/{packages,services,operator,test}/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  modulePathIgnorePatterns: ['<rootDir>/.*/dist/'],
  testTimeout: 60000,
  // A private directory per run, the Kafka address, and stopping what the run started (also on Ctrl-C).
  globalSetup: '<rootDir>/test/support/jest-global-setup.js',
  globalTeardown: '<rootDir>/test/support/jest-global-teardown.js',
  reporters: ['default', '<rootDir>/test/support/jest-skip-reporter.js'],
};
