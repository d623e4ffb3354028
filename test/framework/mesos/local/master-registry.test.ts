/** The local master's registry: what it persists (admitted, unreachable, gone agents) and how it refuses an unreadable file. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MasterRegistry, MasterRegistryError } from '../../../../framework/mesos/local/master/master-registry';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'polly-registry-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const agent = (id: string) => ({ id: { value: id }, hostname: `host-${id}`, port: 5051 });

test('admitted, unreachable and gone agents survive a reopen', () => {
  const file = path.join(dir, 'master', 'registry.json');
  const registry = MasterRegistry.open(file);
  expect(registry.admitted()).toEqual([]);
  registry.admit(agent('S0'));
  registry.admit(agent('S1'));
  registry.admit(agent('S2'));
  registry.markUnreachable('S1', 100);
  registry.markGone('S2', 200);

  const reopened = MasterRegistry.open(file);
  expect(reopened.admitted().map((a) => [a.id?.value, a.hostname])).toEqual([['S0', 'host-S0']]);
  expect(reopened.unreachableSince('S1')).toBe(100);
  expect(reopened.goneSince('S2')).toBe(200);
  // Re-registering makes an unreachable agent admitted again; an unregistered one is forgotten.
  reopened.admit(agent('S1'));
  reopened.remove('S0');
  const third = MasterRegistry.open(file);
  expect(third.admitted().map((a) => a.id?.value)).toEqual(['S1']);
  expect(third.unreachableSince('S1')).toBeUndefined();
});

test('an unreadable registry is refused with the file and the way out', () => {
  const file = path.join(dir, 'registry.json');
  fs.writeFileSync(file, '{"agents": [');
  expect(() => MasterRegistry.open(file)).toThrow(MasterRegistryError);
  expect(() => MasterRegistry.open(file)).toThrow(`${file} is unreadable`);
  expect(() => MasterRegistry.open(file)).toThrow(/Move it aside/);
});
