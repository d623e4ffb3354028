/**
 * Lets a plain `node` child process load TypeScript: `node -r ./test/support/register-ts.js worker.ts`.
 * Compiles each .ts file with swc (the same settings as jest.config.js; no type checking).
 */
'use strict';
const fs = require('node:fs');
const { transformSync } = require('@swc/core');

require.extensions['.ts'] = function compileTs(module, filename) {
  const source = fs.readFileSync(filename, 'utf8');
  const { code } = transformSync(source, {
    filename,
    sourceMaps: 'inline',
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
  });
  module._compile(code, filename);
};
