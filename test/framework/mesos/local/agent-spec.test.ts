import { parseAgentSpec, parseResources, AgentSpecError } from '../../../../framework/mesos/local/agent-spec';

describe('parseAgentSpec', () => {
  test('parses --resources syntax, attributes and fault domain', () => {
    const spec = parseAgentSpec(
      { hostname: 'node0', resources: 'cpus:4;mem:8192;disk(storage):100;ports:[31000-32000, 33000-33001];gpus_set:{a,b}', attributes: { rack: 'r1', slots: '3' }, zone: 'zone-a', region: 'r' },
      { agentId: 'M-S0', workDir: '/tmp/x' },
    );
    expect(spec.resources).toEqual([
      { name: 'cpus', type: 0, scalar: { value: 4 } },
      { name: 'mem', type: 0, scalar: { value: 8192 } },
      { name: 'disk', type: 0, scalar: { value: 100 }, reservations: [{ type: 1, role: 'storage' }] },
      { name: 'ports', type: 1, ranges: { range: [{ begin: 31000, end: 32000 }, { begin: 33000, end: 33001 }] } },
      { name: 'gpus_set', type: 2, set: { item: ['a', 'b'] } },
    ]);
    expect(spec.attributes).toEqual([
      { name: 'rack', type: 3, text: { value: 'r1' } },
      { name: 'slots', type: 0, scalar: { value: 3 } },
      { name: 'zone', type: 3, text: { value: 'zone-a' } },
    ]);
    expect(spec.domain).toEqual({ fault_domain: { region: { name: 'r' }, zone: { name: 'zone-a' } } });
  });

  test('defaults and errors', () => {
    expect(parseAgentSpec({ hostname: 'h' }).resources.map((r) => r.name)).toEqual(['cpus', 'mem', 'disk', 'ports']);
    expect(() => parseResources('cpus')).toThrow(AgentSpecError);
    expect(() => parseResources('ports:[5-1]')).toThrow(AgentSpecError);
    expect(() => parseResources('cpus:-1')).toThrow(AgentSpecError);
  });
});
