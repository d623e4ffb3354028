#!/usr/bin/env node
'use strict';
// The `polly` command: the compiled CLI lives in dist/ (built by `npm ci` / `npm run build`).
const path = require('node:path');
const fs = require('node:fs');
const entry = path.join(__dirname, '..', 'dist', 'framework', 'cli', 'main.js');
if (!fs.existsSync(entry)) {
  process.stderr.write('polly: not built yet; run `npm run build` (npm ci does it for you)\n');
  process.exit(1);
}
require(entry).main(process.argv).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`polly: ${err && err.message ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
