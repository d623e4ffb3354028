#!/usr/bin/env node
'use strict';
// Prints jest's own result as the one line CI reads: "N passed, N failed[, N skipped]".
// Exits 1 when the result file is missing, unreadable, or reports any failure.
const fs = require('node:fs');

const file = process.argv[2] || 'test-output/jest-results.json';
function summarize(result) {
  const passed = result.numPassedTests;
  const failed = result.numFailedTests + (result.numRuntimeErrorTestSuites || 0);
  const skipped = (result.numPendingTests || 0) + (result.numTodoTests || 0);
  return { line: `${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`, ok: failed === 0 && result.success !== false && result.numTotalTests > 0 };
}

if (require.main === module) {
  let result;
  try {
    result = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    console.log('0 passed, 1 failed');
    console.error(`test-summary: cannot read ${file}: ${err.message}`);
    process.exit(1);
  }
  const { line, ok } = summarize(result);
  console.log(line);
  process.exit(ok ? 0 : 1);
}
module.exports = { summarize };
