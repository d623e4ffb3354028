/** Jest: TypeScript through swc (no type checking here; `npm run typecheck` does that). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.(t|j)s$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  // jose ships ESM only: Node 20 require()s it natively, jest needs it compiled.
  transformIgnorePatterns: ['/node_modules/(?!jose/)', '/framework/mesos/generated/'],
  testTimeout: 60000,
  maxWorkers: 2,
};
