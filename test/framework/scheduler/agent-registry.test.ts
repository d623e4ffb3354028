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
});
