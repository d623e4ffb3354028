/** Polly's version, read from package.json whether running from source (tests) or dist/. */
import fs from 'node:fs';
import path from 'node:path';

function findPackageJson(): { version: string } {
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    const candidate = path.join(dir, 'package.json');
    if (fs.existsSync(candidate)) {
      const pkg = JSON.parse(fs.readFileSync(candidate, 'utf8')) as { name?: string; version: string };
      if (pkg.name === 'polly') return pkg;
    }
    dir = path.dirname(dir);
  }
  return { version: '0.0.0-unknown' };
}

export const POLLY_VERSION = findPackageJson().version;
