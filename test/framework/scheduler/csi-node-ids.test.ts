import { csiNodeId, csiNodeIdsOf, instanceIdResolver, nodeIdAttribute } from '../../../framework/scheduler/csi-node-ids';
import { csiVolumeMount } from '../../../framework/scheduler/csi-volume-mapping';
import type { AgentRecord } from '../../../framework/scheduler/agent-registry';
import type { StorageService } from '../../../framework/storage/service-registry';
import type { VolumeRecord } from '../../../framework/storage/volume-record';

function csiService(csi: Record<string, unknown>, plugin = 'disk.csi.example.com'): StorageService {
  return {
    name: 'disks',
    definition: {
      name: 'disks',
      driver: 'csi',
      mapping: 'csi',
      timeoutMs: 1000,
      profiles: [
        { service: 'disks', name: 'default', active: true },
        { service: 'disks', name: 'fast', fsType: 'ext4', active: true },
      ],
      csi: {
        agentPluginName: '',
        pluginName: '',
        nodeIdAttribute: '',
        accessType: 'mount',
        fsType: '',
        mountFlags: [],
        readerMode: 'MULTI_NODE_READER_ONLY',
        profiles: {},
        nodeStageSecrets: {},
        nodePublishSecrets: {},
        ...csi,
      },
    },
    driver: { describe: () => ({ plugin: { name: plugin, version: '1', capabilities: [], endpoint: 'unix:///p.sock' } }) },
  } as unknown as StorageService;
}

const agent = (attributes: Record<string, string> = {}): AgentRecord =>
  ({ agentId: 'S1', hostname: 'node7', attributes, state: 'active', firstSeenAt: '', updatedAt: '' }) as AgentRecord;

describe('CSI node IDs', () => {
  it('come from the csi.<plugin>.node_id attribute, else the host name', () => {
    const s = csiService({});
    expect(nodeIdAttribute(s)).toBe('csi.disk.csi.example.com.node_id');
    expect(csiNodeId(agent(), s)).toBe('node7');
    expect(csiNodeId(agent({ 'csi.disk.csi.example.com.node_id': 'i-0abc' }), s)).toBe('i-0abc');
    expect(csiNodeIdsOf(agent({ 'csi.disk.csi.example.com.node_id': 'i-0abc' }), [s])).toEqual({ 'disk.csi.example.com': 'i-0abc' });
  });

  it('follow the configured attribute and the name the agents know the plugin by', () => {
    const s = csiService({ nodeIdAttribute: 'ec2_instance', agentPluginName: 'ebs' });
    expect(csiNodeId(agent({ ec2_instance: 'i-0def' }), s)).toBe('i-0def');
    expect(csiNodeIdsOf(agent({ ec2_instance: 'i-0def' }), [s])).toEqual({ ebs: 'i-0def' });
    const registry = { has: (n: string) => n === 'disks', get: () => s };
    expect(instanceIdResolver(registry)(agent({ ec2_instance: 'i-0def' }), 'disks')).toBe('i-0def');
    expect(instanceIdResolver(registry)(agent({ ec2_instance: 'i-0def' }), 'local')).toBe('node7');
  });
});

describe('the csi mapping of a claimed volume', () => {
  const volume = {
    name: 'data',
    driverVolumeId: 'vol-1',
    profile: 'fast',
    fields: { 'csi.context/share': '/exports/data', app: 'web' },
  } as unknown as VolumeRecord;

  it("takes the profile's file system, the claim's access mode and the plugin's volume context", () => {
    const s = csiService({ nodePublishSecrets: { token: { name: 'tok' } } });
    expect(csiVolumeMount({ containerPath: 'd', mode: 'RW' }, volume, s)).toMatchObject({
      kind: 'csi',
      pluginName: 'disk.csi.example.com',
      volumeId: 'vol-1',
      fsType: 'ext4',
      accessMode: 'SINGLE_NODE_WRITER',
      volumeContext: { share: '/exports/data' },
      nodePublishSecrets: { token: { name: 'tok' } },
    });
    expect(
      csiVolumeMount({ containerPath: 'd', mode: 'RO' }, volume, csiService({ readerMode: 'SINGLE_NODE_READER_ONLY' })).accessMode,
    ).toBe('SINGLE_NODE_READER_ONLY');
    expect(csiVolumeMount({ containerPath: 'd', mode: 'RW' }, volume, csiService({ accessType: 'block' })).fsType).toBe('');
  });
});
