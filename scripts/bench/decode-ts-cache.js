/**
 * `node -r scripts/bench/decode-ts-cache.js file.ts`: loads TypeScript that decode-callgrind.ts has
 * already compiled into $POLLY_DECODE_TS_CACHE (one .js per repository-relative .ts path). The
 * callgrind children use it instead of test/support/register-ts.js because loading swc's native
 * compiler under valgrind costs about a minute per child.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..', '..');
const cache = process.env.POLLY_DECODE_TS_CACHE;
if (!cache) throw new Error('POLLY_DECODE_TS_CACHE is not set');

require.extensions['.ts'] = function loadCompiled(module, filename) {
  const compiled = path.join(cache, `${path.relative(root, filename)}.js`);
  if (!fs.existsSync(compiled)) throw new Error(`${filename} was not compiled into ${cache}`);
  module._compile(fs.readFileSync(compiled, 'utf8'), filename);
};
