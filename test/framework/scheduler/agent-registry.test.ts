import { mesos } from '../../../framework/mesos/generated/mesos';
import { AgentRegistry } from '../../../framework/scheduler/agent-registry';
import { offer } from './offer-fixtures';

const S = mesos.v1.TaskState;
const R = mesos.v1.TaskStatus.Reason;

describe('AgentRegistry', () => {
  it('learns agents from offers: fault domain zone, else the configured attribute', () => {
    const agents = new AgentRegistry({ zoneAttribute: 'rack_zone' });
    agents.observeOffer(offer('A1', 'node0', 'zone-a', { attributes: { rack: '7' } }));
    agents.observeOffer(offer('A2', 'node9', undefined, { attributes: { rack_zone: 'zone-c' } }));
    expect(agents.get('A1')).toMatchObject({ hostname: 'node0', zone: 'zone-a', region: 'region-1', attributes: { rack: '7' }, state: 'active' });
    expect(agents.get('A2')?.zone).toBe('zone-c');
    expect(agents.list({ zone: 'zone-a' }).map((a) => a.agentId)).toEqual(['A1']);
    expect(agents.byHost('node9')?.agentId).toBe('A2');
  });

  it('has per-service instance IDs (hostname by default)', () => {
    const agents = new AgentRegistry({ services: () => ['local', 'ebs'], instanceId: (a, s) => (s === 'ebs' ? `i-${a.hostname}` : a.hostname) });
    const a = agents.observeOffer(offer('A1', 'node0', 'zone-a'));
    expect(agents.view(a).instanceIds).toEqual({ local: 'node0', ebs: 'i-node0' });
  });

  it('FAILURE and UNREACHABLE make an agent unreachable, only Mesos removal makes it gone', () => {
    const agents = new AgentRegistry();
    const changes: string[] = [];
    agents.on('agent.changed', ({ agent }) => changes.push(agent.state));
    agents.observeOffer(offer('A1', 'node0', 'zone-a'));
    agents.markLost('A1', 'FAILURE');
    expect(agents.get('A1')?.state).toBe('unreachable');
    agents.observeOffer(offer('A1', 'node0', 'zone-a'));
    expect(agents.get('A1')?.state).toBe('active');
    agents.observeStatus({ task_id: { value: 't' }, agent_id: { value: 'A1' }, state: S.TASK_UNREACHABLE, reason: R.REASON_AGENT_REMOVED });
    expect(agents.get('A1')?.state).toBe('unreachable');
    agents.observeStatus({ task_id: { value: 't' }, agent_id: { value: 'A1' }, state: S.TASK_GONE_BY_OPERATOR, reason: R.REASON_AGENT_REMOVED_BY_OPERATOR });
    expect(agents.get('A1')?.state).toBe('gone');
    agents.markLost('A1', 'late FAILURE');
    expect(agents.get('A1')?.state).toBe('gone');
    expect(changes).toEqual(['active', 'unreachable', 'active', 'unreachable', 'gone']);
  });

  it('does not emit when an offer repeats the same facts', () => {
    const agents = new AgentRegistry();
    let n = 0;
    agents.on('agent.changed', () => n++);
    agents.observeOffer(offer('A1', 'node0', 'zone-a'));
    agents.observeOffer(offer('A1', 'node0', 'zone-a'));
    expect(n).toBe(1);
  });

  it('returns the known record for a repeated offer, and still sees every change of facts', () => {
    const agents = new AgentRegistry({ zoneAttribute: 'rack_zone' });
    const changes: string[] = [];
    agents.on('agent.changed', ({ agent }) => changes.push(`${agent.hostname} ${agent.zone} ${JSON.stringify(agent.attributes)}`));
    const first = agents.observeOffer(offer('A1', 'node0', 'zone-a', { attributes: { rack: '7', gen: '2' } }));
    expect(agents.observeOffer(offer('A1', 'node0', 'zone-a', { attributes: { gen: '2', rack: '7' } }))).toBe(first);
    agents.observeOffer(offer('A1', 'node0', 'zone-a', { attributes: { rack: '8', gen: '2' } })); // value
    agents.observeOffer(offer('A1', 'node0', 'zone-a', { attributes: { rack: '8' } })); // one fewer
    agents.observeOffer(offer('A1', 'node0', 'zone-a', { attributes: { rack: '8', hasOwnProperty: 'x' } })); // one more
    agents.observeOffer(offer('A1', 'node1', 'zone-a', { attributes: { rack: '8', hasOwnProperty: 'x' } })); // hostname
    agents.observeOffer(offer('A1', 'node1', 'zone-b', { attributes: { rack: '8', hasOwnProperty: 'x' } })); // zone
    agents.observeOffer(offer('A1', 'node1', undefined, { attributes: { rack: '8', hasOwnProperty: 'x', rack_zone: 'zone-b' } })); // zone from the attribute
    agents.observeOffer(offer('A1', 'node1', undefined, { attributes: { rack: '8', hasOwnProperty: 'x', rack_zone: 'zone-c' } }));
    expect(changes).toHaveLength(8);
    // A name given twice: the last value counts, and the record has one entry for it.
    const twice = offer('A1', 'node1', undefined, { attributes: { rack: '8', hasOwnProperty: 'x' } });
    twice.attributes.push(mesos.v1.Attribute.create({ name: 'rack', type: mesos.v1.Value.Type.TEXT, text: { value: '8' } }));
    const before = agents.get('A1');
    agents.observeOffer(twice); // drops rack_zone (and with it the zone)
    expect(agents.get('A1')).not.toBe(before);
    expect(agents.get('A1')).toMatchObject({ attributes: { rack: '8', hasOwnProperty: 'x' } });
    expect(agents.get('A1')?.zone).toBeUndefined();
    const same = agents.get('A1');
    expect(agents.observeOffer(twice)).toBe(same);
    const scalar = offer('A1', 'node1', undefined, { attributes: { rack: '8', hasOwnProperty: 'x' } });
    scalar.attributes.push(mesos.v1.Attribute.create({ name: 'slots', type: mesos.v1.Value.Type.SCALAR, scalar: { value: 4 } }));
    const withSlots = agents.observeOffer(scalar);
    expect(withSlots.attributes.slots).toBe('4');
    expect(agents.observeOffer(scalar)).toBe(withSlots);
    expect(changes).toHaveLength(10);
  });

  it('an offer brings an unreachable agent back even when its facts are the same', () => {
    const agents = new AgentRegistry();
    const active = agents.observeOffer(offer('A1', 'node0', 'zone-a'));
    agents.markLost('A1', 'FAILURE');
    const back = agents.observeOffer(offer('A1', 'node0', 'zone-a'));
    expect(back).not.toBe(active);
    expect(back.state).toBe('active');
    expect(back.reason).toBeUndefined();
  });
});
