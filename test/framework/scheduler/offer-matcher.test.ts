import type { ClaimRecord } from '../../../framework/storage/claim-record';
import type { VolumeRecord } from '../../../framework/storage/volume-record';
import { AgentRegistry } from '../../../framework/scheduler/agent-registry';
import { mesos } from '../../../framework/mesos/generated/mesos';
import { managedVolumes, parseAppSpec } from '../../../framework/scheduler/app-spec';
import { MatchEnvironment, OfferMatcher, PendingInstance, reservationOwner } from '../../../framework/scheduler/offer-matcher';
import { offer } from './offer-fixtures';

function volume(name: string, zone?: string, extra: Partial<VolumeRecord> = {}): VolumeRecord {
  return { id: `local.${name}`, service: 'local', driverVolumeId: name, name, size: 1, status: 'available', encrypted: false, labels: {}, fields: {}, schedulers: ['polly'], managed: true, attachments: [], createdAt: '', updatedAt: '', ...(zone ? { availabilityZone: zone } : {}), ...extra };
}

function setup(volumes: VolumeRecord[] = [], claims: ClaimRecord[] = [], limit?: number) {
  const agents = new AgentRegistry();
  const offers = [offer('A0', 'node0', 'zone-a'), offer('A1', 'node1', 'zone-a'), offer('A2', 'node2', 'zone-b', { cpus: 0.5 })];
  for (const o of offers) agents.observeOffer(o);
  const placements: Record<string, Array<{ agentId: string; hostname: string; zone?: string; attributes: Record<string, string> }>> = {};
  const env: MatchEnvironment = {
    scheduler: 'polly',
    agent: (id) => agents.get(id),
    findVolume: (_s, name) => volumes.find((v) => v.name === name),
    liveClaims: (id) => claims.filter((c) => c.volumeId === id),
    claimsOnAgent: (agentId) => claims.filter((c) => c.agentId === agentId).length,
    attachLimit: () => limit,
    placements: (appId) => placements[appId] ?? [],
  };
  return { agents, offers, env, placements, matcher: new OfferMatcher(env) };
}

function pending(body: Record<string, unknown>, instance = 0, extra: Partial<PendingInstance> = {}): PendingInstance {
  const spec = parseAppSpec({ cmd: 'x', cpus: 1, mem: 64, ...body });
  return {
    key: `${spec.id}#${instance}`,
    appId: spec.id,
    instance,
    spec,
    volumes: managedVolumes(spec).map((v) => ({ name: v.external.name.replace('{{instance}}', String(instance)), service: 'local', containerPath: v.containerPath, mode: v.mode })),
    ...extra,
  };
}

const withVolume = (id: string, name: string, extra: Record<string, unknown> = {}) => ({
  id,
  container: { volumes: [{ containerPath: 'd', mode: 'RW', external: { name, provider: 'polly' } }] },
  ...extra,
});

describe('OfferMatcher', () => {
  it('places an instance where its volume zone, constraints and resources allow', () => {
    const { matcher, offers } = setup([volume('vb', 'zone-b')]);
    const r = matcher.match(offers, [pending(withVolume('app', 'vb', { cpus: 0.5 }))]);
    expect(r.launches.map((l) => l.agent.hostname)).toEqual(['node2']);
    expect(r.unused.map((o) => o.hostname).sort()).toEqual(['node0', 'node1']);
    const too = matcher.match(offers, [pending(withVolume('big', 'vb', { cpus: 1 }))]);
    expect(too.launches).toEqual([]);
    expect(too.waiting.get('big#0')).toBe('waiting: no offer has the resources');
  });

  it('never places a task where a volume accessible from only some zones is not (a CSI volume of several zones)', () => {
    const regional = volume('vr', undefined, { fields: { 'csi.zones': 'zone-b,zone-c' } });
    const { matcher, offers } = setup([regional]);
    const r = matcher.match(offers, [pending(withVolume('app', 'vr', { cpus: 0.5 }))]);
    expect(r.launches.map((l) => l.agent.hostname)).toEqual(['node2']);
    const a = setup([volume('va', undefined, { fields: { 'csi.zones': 'zone-c,zone-d' } })]);
    const none = a.matcher.match(a.offers, [pending(withVolume('app', 'va', { cpus: 0.5 }))]);
    expect(none.launches).toEqual([]);
    expect(none.waiting.get('app#0')).toBe('waiting: volume va is accessible only from zones zone-c, zone-d');
  });

  it('makes instances wait when a volume is held by another task, naming it', () => {
    const claim = { id: 'c1', volumeId: 'local.v', taskId: 'other.0.x', agentId: 'A1', mode: 'RW', state: 'attached' } as ClaimRecord;
    const { matcher, offers } = setup([volume('v', 'zone-a')], [claim]);
    const r = matcher.match(offers, [pending(withVolume('app', 'v'))]);
    expect(r.launches).toEqual([]);
    expect(r.waiting.get('app#0')).toBe('waiting: volume v is held by task other.0.x on agent node1');
  });

  it('refuses volumes that are not offered to polly', () => {
    const { matcher, offers } = setup([volume('v', 'zone-a', { schedulers: ['marathon'] })]);
    expect(matcher.match(offers, [pending(withVolume('app', 'v'))]).waiting.get('app#0')).toMatch(/not offered to scheduler polly/);
  });

  it('prefers the agent where the volume is attached, then spreads', () => {
    const attached = volume('v', 'zone-a', { attachments: [{ claimId: 'c', instanceId: 'node1', agentId: 'A1', mode: 'RO', attachedAt: '' }] });
    const { matcher, offers, placements, agents } = setup([attached]);
    const ro = pending({ id: 'ro', container: { volumes: [{ containerPath: 'd', mode: 'RO', external: { name: 'v', provider: 'polly' } }] } });
    expect(matcher.match(offers, [ro]).launches[0].agent.hostname).toBe('node1');
    placements.web = [{ ...agents.get('A0')! }];
    const r = matcher.match(offers, [pending({ id: 'web', cpus: 0.1 }, 1), pending({ id: 'web', cpus: 0.1 }, 2)]);
    expect(r.launches.map((l) => l.agent.hostname).sort()).toEqual(['node1', 'node2']);
  });

  it('respects the attach limit', () => {
    const claims = [{ id: 'c', volumeId: 'local.x', agentId: 'A0', mode: 'RW', state: 'attached' } as ClaimRecord, { id: 'd', volumeId: 'local.y', agentId: 'A1', mode: 'RW', state: 'attached' } as ClaimRecord];
    const { matcher, offers } = setup([], claims, 1);
    const r = matcher.match(offers.slice(0, 2), [pending(withVolume('app', 'new'))]);
    expect(r.launches).toEqual([]);
    expect(r.waiting.get('app#0')).toMatch(/attach limit 1/);
  });

  it('reserves for residency and then launches only on its own reservation', () => {
    const { matcher, offers } = setup();
    const r = matcher.match([offers[0]], [pending({ id: 'res', residency: {} })]);
    // cpus, mem and the task's one host port.
    expect(r.launches[0].reserve?.map((x) => x.name)).toEqual(['cpus', 'mem', 'ports']);
    expect(r.launches[0].reserve!.every((x) => reservationOwner(x) === 'res#0')).toBe(true);
    const away = matcher.match([offers[1]], [pending({ id: 'res', residency: {} }, 0, { reservedAgentId: 'A0' })]);
    expect(away.launches).toEqual([]);
    expect(away.waiting.get('res#0')).toMatch(/reserved/);
  });

  it('bounds the work per event', () => {
    const { matcher, offers } = setup();
    const many = Array.from({ length: 5000 }, (_, i) => pending({ id: 'x', cpus: 100 }, i));
    const r = matcher.match(offers, many);
    expect(r.tried).toBeLessThanOrEqual(64);
    expect(r.unused).toHaveLength(3);
  });

  it('continues an event in bounded steps until every instance was looked at once or the offers are full', () => {
    const { matcher, offers } = setup();
    // 300 instances of zone-a: node0 and node1 fit 200 of them each (cpus 4), node2 is in zone-b.
    const waiting = Array.from({ length: 300 }, (_, i) => pending({ id: 'fleet', cpus: 0.02, mem: 1, constraints: [['@zone', 'CLUSTER', 'zone-a']] }, i));
    const unplaceable = Array.from({ length: 10 }, (_, i) => pending({ id: 'huge', cpus: 100 }, i));
    let queue = [...unplaceable.slice(0, 5), ...waiting, ...unplaceable.slice(5)];
    const round = matcher.startRound(offers);
    const placed: string[] = [];
    const steps: number[] = [];
    for (;;) {
      const step = matcher.continueRound(round, queue);
      steps.push(step.tried);
      expect(step.tried).toBeLessThanOrEqual(64);
      placed.push(...step.launches.map((l) => l.instance.key));
      // The caller takes what was placed out of its queue, as the launch queue does.
      const taken = new Set(step.launches.map((l) => l.instance.key));
      queue = queue.filter((p) => !taken.has(p.key));
      if (!step.more) break;
    }
    expect(new Set(placed).size).toBe(placed.length);
    expect(placed.sort()).toEqual(waiting.map((p) => p.key).sort());
    // Each instance looked at once: the unplaceable ones too, and no more.
    expect(steps.reduce((a, b) => a + b, 0)).toBe(310);
    expect(matcher.unusedOf(round).map((o) => o.hostname)).toEqual(['node2']);
  });

  it('moves on to the next best offer when the best breaks a constraint', () => {
    const agents = new AgentRegistry();
    const offers = [offer('A0', 'node0', 'zone-a', { attributes: { rack: 'r1' } }), offer('A1', 'node1', 'zone-a', { attributes: { rack: 'r2' } })];
    for (const o of offers) agents.observeOffer(o);
    const env: MatchEnvironment = {
      scheduler: 'polly',
      agent: (id) => agents.get(id),
      findVolume: () => undefined,
      liveClaims: () => [],
      claimsOnAgent: () => 0,
      attachLimit: () => undefined,
      // An instance already runs on node1, so spreading prefers node0 first.
      placements: (appId) => (appId === 'web' ? [{ ...agents.get('A1')!, attributes: { rack: 'elsewhere' } }] : []),
    };
    const matcher = new OfferMatcher(env);
    const r = matcher.match(offers, [pending({ id: 'web', constraints: [['rack', 'UNLIKE', 'r1']] })]);
    expect(r.launches.map((l) => l.agent.hostname)).toEqual(['node1']);
    const none = matcher.match(offers, [pending({ id: 'web', constraints: [['rack', 'LIKE', 'r3']] })]);
    expect(none.launches).toEqual([]);
    expect(none.waiting.get('web#0')).toBe('waiting: no offer satisfies the constraints');
  });

  it('counts attach limits per service over all the volumes an instance still has to attach', () => {
    const agents = new AgentRegistry();
    const node0 = offer('A0', 'node0', 'zone-a');
    agents.observeOffer(node0);
    const attached = volume('old', undefined, { service: 'ebs', attachments: [{ claimId: 'c', instanceId: 'node0', agentId: 'A0', mode: 'RW', attachedAt: '' }] });
    const limits: Record<string, number | undefined> = { ebs: 3 };
    const env: MatchEnvironment = {
      scheduler: 'polly',
      agent: (id) => agents.get(id),
      findVolume: (_s, name) => (name === 'old' ? attached : undefined),
      liveClaims: () => [],
      claimsOnAgent: (_agentId, service) => (service === 'ebs' ? 1 : 5),
      attachLimit: (service) => limits[service],
      placements: () => [],
    };
    const instance = (id: string, vols: Array<[string, string]>): PendingInstance => ({
      ...pending({ id, cpus: 0.1 }),
      volumes: vols.map(([name, service], i) => ({ name, service, containerPath: `d${i}`, mode: 'RW' as const })),
    });
    // ebs: 1 attached elsewhere + 2 new here = 3 (the volume attached to node0 already does not count); local has no limit.
    const first = instance('a', [['n1', 'ebs'], ['n2', 'local'], ['old', 'ebs'], ['n3', 'ebs']]);
    // One more ebs volume in the same round: 1 + 2 planned + 1 > 3.
    const second = instance('b', [['n4', 'local'], ['n5', 'ebs']]);
    const r = new OfferMatcher(env).match([node0], [first, second]);
    expect(r.launches.map((l) => l.instance.appId)).toEqual(['a']);
    expect(r.waiting.get('b#0')).toBe('waiting: attach limit 3 of service ebs reached on node0');
    limits.ebs = 2;
    const tight = new OfferMatcher(env).match([node0], [first]);
    expect(tight.waiting.get('a#0')).toBe('waiting: attach limit 2 of service ebs reached on node0');
  });
});

describe('OfferMatcher: host ports and roles', () => {
  const portsOf = (l: { resources: mesos.v1.IResource[] }) => l.resources.filter((r) => r.name === 'ports').flatMap((r) => (r.ranges?.range ?? []).map((x) => [Number(x.begin), Number(x.end)]));

  function one(o: mesos.v1.Offer) {
    const agents = new AgentRegistry();
    agents.observeOffer(o);
    const env: MatchEnvironment = { scheduler: 'polly', agent: (id) => agents.get(id), findVolume: () => undefined, liveClaims: () => [], claimsOnAgent: () => 0, attachLimit: () => undefined, placements: () => [] };
    return new OfferMatcher(env);
  }

  it('takes the lowest free ports for any-port requests, distinct per instance, and names them in the resources', () => {
    const o = offer('A0', 'node0', 'zone-a', { ports: [[31000, 31001], [31005, 31009]] });
    const r = one(o).match([o], [pending({ id: 'web', cpus: 0.1, portDefinitions: [{ port: 0 }, { port: 0 }] }, 0), pending({ id: 'web', cpus: 0.1, portDefinitions: [{ port: 0 }, { port: 0 }] }, 1)]);
    expect(r.launches.map((l) => l.hostPorts)).toEqual([
      [31000, 31001],
      [31005, 31006],
    ]);
    expect(portsOf(r.launches[0])).toEqual([[31000, 31001]]);
    expect(r.launches[0].resources.find((x) => x.name === 'ports')?.allocation_info).toEqual({ role: 'polly' });
  });

  it('requirePorts: the fixed ports or nothing; a second instance on the same agent waits', () => {
    const o = offer('A0', 'node0', 'zone-a', { ports: [[31000, 31010]] });
    const spec = { id: 'fixed', cpus: 0.1, requirePorts: true, portDefinitions: [{ port: 31003 }] };
    const r = one(o).match([o], [pending(spec, 0), pending(spec, 1)]);
    expect(r.launches.map((l) => l.hostPorts)).toEqual([[31003]]);
    expect(r.waiting.get('fixed#1')).toBe('waiting: no offer has the resources');
    const outside = one(o).match([o], [pending({ ...spec, portDefinitions: [{ port: 8080 }] })]);
    expect(outside.launches).toEqual([]);
  });

  it('asks no host port for container ports on a container network, and one for bridge mappings', () => {
    const o = offer('A0', 'node0', 'zone-a', { ports: [] });
    const container = pending({ id: 'c', cpus: 0.1, networks: [{ mode: 'container', name: 'n' }], container: { type: 'MESOS', portMappings: [{ containerPort: 80 }] } });
    const r = one(o).match([o], [container]);
    expect(r.launches.map((l) => l.hostPorts)).toEqual([[undefined]]);
    const bridge = pending({ id: 'b', cpus: 0.1, networks: [{ mode: 'container/bridge' }], container: { type: 'DOCKER', docker: { image: 'x' }, portMappings: [{ containerPort: 80 }] } });
    expect(one(o).match([o], [bridge]).launches).toEqual([]);
  });

  it('acceptedResourceRoles: "*" takes only unreserved resources, the role only reserved ones; role must match the offer', () => {
    const reserved = (name: string, value: number): mesos.v1.IResource => ({ name, type: mesos.v1.Value.Type.SCALAR, scalar: { value }, reservations: [{ type: mesos.v1.Resource.ReservationInfo.Type.STATIC, role: 'polly' }], allocation_info: { role: 'polly' } });
    const o = offer('A0', 'node0', 'zone-a', { cpus: 0.2, mem: 64, extra: [reserved('cpus', 2), reserved('mem', 1024)] });
    const unreservedOnly = one(o).match([o], [pending({ id: 'u', cpus: 1, mem: 128, acceptedResourceRoles: ['*'], portDefinitions: [] })]);
    expect(unreservedOnly.launches).toEqual([]);
    const reservedOnly = one(o).match([o], [pending({ id: 'r', cpus: 1, mem: 128, acceptedResourceRoles: ['polly'], portDefinitions: [] })]);
    expect(reservedOnly.launches[0].resources.every((x) => (x.reservations ?? []).length === 1)).toBe(true);
    const either = one(o).match([o], [pending({ id: 'e', cpus: 1, mem: 128, portDefinitions: [] })]);
    expect(either.launches).toHaveLength(1);
  });
});
