'use strict';
// What the test suite needs from the machine. Each entry checks, and where possible installs
// (Debian, as root), so `npm ci && npm test` works on a fresh machine.
const { spawnSync } = require('node:child_process');

const fs = require('node:fs');

const requirements = [
  // Filled in as suites need services: ZooKeeper (HA store tests), Chromium (dashboard tests).
  {
    // The ZooKeeper store, leader election and zk:// master detection run against a real server
    // (test/support/zookeeper-server.ts starts the package's jar with Java).
    name: 'ZooKeeper server',
    present: () => fs.existsSync('/usr/share/java/zookeeper.jar') && spawnSync('which', ['java']).status === 0,
    debianPackages: ['zookeeper'],
    hint: 'apt-get install zookeeper',
  },
  {
    // The dashboard's browser tests (test/framework/api/ui/*.browser.test.ts) drive Debian's headless
    // Chromium through playwright-core, which downloads no browser of its own.
    name: 'Chromium',
    present: () => fs.existsSync('/usr/bin/chromium'),
    debianPackages: ['chromium'],
    hint: 'apt-get install chromium',
  },
];

function aptInstall(packages) {
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!asRoot || spawnSync('which', ['apt-get']).status !== 0) return false;
  console.error(`installing ${packages.join(' ')} (apt-get)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (spawnSync('apt-get', ['update'], { stdio: 'inherit', env }).status !== 0) return false;
  return spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...packages], { stdio: 'inherit', env }).status === 0;
}

/**
 * Installs what is missing of the named requirements (all when none are named) where it can;
 * returns what is still missing, each as `name (hint)`.
 */
function ensureRequirements(names) {
  const missing = requirements.filter((r) => (names === undefined || names.includes(r.name)) && !r.present());
  if (missing.length === 0) return [];
  aptInstall(missing.flatMap((r) => r.debianPackages));
  return missing.filter((r) => !r.present()).map((r) => `${r.name} (${r.hint})`);
}

function ensurePrerequisites() {
  const missing = ensureRequirements();
  if (missing.length === 0) return;
  for (const m of missing) console.error(`test prerequisite missing: ${m}`);
  process.exit(1);
}

module.exports = { ensurePrerequisites, ensureRequirements, aptInstall };
