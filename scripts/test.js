#!/usr/bin/env node
'use strict';
// The whole test suite: makes sure what the suite needs is present, runs jest once with its
// JSON result, and ends with "N passed, N failed[, N skipped]". Extra args go to jest.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { ensurePrerequisites } = require('./test-prerequisites');
const { summarize } = require('./test-summary');

const root = path.join(__dirname, '..');
const outDir = path.join(root, 'test-output');
const resultFile = path.join(outDir, 'jest-results.json');
fs.mkdirSync(outDir, { recursive: true });
fs.rmSync(resultFile, { force: true });

// The CLI tests run the real `polly` binary from dist/, so build first (incremental: cheap when
// nothing changed). A type error fails the run here, before any test.
const build = spawnSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit', cwd: root });
if (build.status !== 0) {
  console.log('0 passed, 1 failed');
  process.exit(1);
}
ensurePrerequisites();

const jest = require.resolve('jest/bin/jest');
const run = spawnSync(process.execPath, [jest, '--ci', '--json', `--outputFile=${resultFile}`, ...process.argv.slice(2)], {
  stdio: 'inherit',
  cwd: root,
  env: { ...process.env, POLLY_TEST_OUTPUT: outDir },
});
let line = '0 passed, 1 failed';
let ok = false;
try {
  ({ line, ok } = summarize(JSON.parse(fs.readFileSync(resultFile, 'utf8'))));
} catch (err) {
  console.error(`jest wrote no readable result (${err.message})`);
}
console.log(line);
process.exit(ok && run.status === 0 ? 0 : 1);
