/** Synthetic mesos.v1.Offer objects, as the master sends them (shared by tests and the bench). */
import { mesos } from '../../../framework/mesos/generated/mesos';

let seq = 0;

export function offer(
  agentId: string,
  hostname: string,
  zone: string | undefined,
  opts: { cpus?: number; mem?: number; disk?: number; ports?: Array<[number, number]>; attributes?: Record<string, string>; extra?: mesos.v1.IResource[] } = {},
): mesos.v1.Offer {
  const scalar = (name: string, value: number): mesos.v1.IResource => ({ name, type: mesos.v1.Value.Type.SCALAR, scalar: { value }, allocation_info: { role: 'polly' } });
  return mesos.v1.Offer.create({
    id: { value: `O${++seq}` },
    framework_id: { value: 'F1' },
    agent_id: { value: agentId },
    hostname,
    allocation_info: { role: 'polly' },
    domain: zone ? { fault_domain: { region: { name: 'region-1' }, zone: { name: zone } } } : undefined,
    attributes: Object.entries(opts.attributes ?? {}).map(([name, value]) => ({ name, type: mesos.v1.Value.Type.TEXT, text: { value } })),
    resources: [
      scalar('cpus', opts.cpus ?? 4),
      scalar('mem', opts.mem ?? 8192),
      scalar('disk', opts.disk ?? 10000),
      ...((opts.ports ?? [[31000, 32000]]).length > 0
        ? [{ name: 'ports', type: mesos.v1.Value.Type.RANGES, ranges: { range: (opts.ports ?? [[31000, 32000]]).map(([begin, end]) => ({ begin, end })) }, allocation_info: { role: 'polly' } }]
        : []),
      ...(opts.extra ?? []),
    ],
  });
}
