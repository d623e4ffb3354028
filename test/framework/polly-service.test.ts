/**
 * Polly as a Mesos framework, end to end over HTTP against the local cluster: it subscribes with
 * its identity, is a good citizen with offers, and a restart resumes the same framework.
 */
import { LocalCluster } from '../../framework/mesos/local/local-cluster';
import { silentLogger } from '../../framework/shared/logger';
import { PollyService } from '../../framework/polly-service';
import { waitFor } from '../support/mesos-http';
import { LocalPollyFixture, startLocalPollyFixture } from '../support/local-polly';

interface StateFramework {
  id: string;
  name: string;
  hostname: string;
  webui_url: string;
  active: boolean;
  connected: boolean;
  failover_timeout: number;
  capabilities: string[];
  roles: string[];
  offers: unknown[];
}

async function masterFrameworks(cluster: LocalCluster): Promise<{ frameworks: StateFramework[]; completed_frameworks: StateFramework[] }> {
  const res = await fetch(`${cluster.url}/master/state`);
  return (await res.json()) as { frameworks: StateFramework[]; completed_frameworks: StateFramework[] };
}

describe('PollyService against the local cluster', () => {
  let fixture: LocalPollyFixture;
  let cluster: LocalCluster;
  let service: PollyService | undefined;

  beforeEach(async () => {
    fixture = await startLocalPollyFixture();
    cluster = fixture.cluster;
  });

  afterEach(async () => {
    await service?.stop().catch(() => undefined);
    service = undefined;
    await fixture.dispose();
  });

  const config = () => fixture.config({ 'mesos.hostname': 'polly.test', 'mesos.webuiUrl': 'http://polly.test:7978/ui' });

  it('subscribes as framework polly with hostname, webui_url, capabilities and a one-week failover timeout', async () => {
    service = await PollyService.start({ config: config(), logger: silentLogger });
    const frameworkId = await waitFor(() => service?.scheduler.isSubscribed && service.scheduler.frameworkId, 10000);
    const state = await masterFrameworks(cluster);
    const fw = state.frameworks.find((f) => f.id === frameworkId);
    expect(fw).toBeDefined();
    expect(fw).toMatchObject({
      name: 'polly',
      hostname: 'polly.test',
      webui_url: 'http://polly.test:7978/ui',
      active: true,
      failover_timeout: 604800,
      roles: ['polly'],
    });
    expect([...fw!.capabilities].sort()).toEqual(['MULTI_ROLE', 'PARTITION_AWARE', 'RESERVATION_REFINEMENT', 'TASK_KILLING_STATE']);
  });

  it('declines offers it does not need, so it holds none, and counts them', async () => {
    service = await PollyService.start({ config: config(), logger: silentLogger });
    const frameworkId = await waitFor(() => service?.scheduler.isSubscribed && service.scheduler.frameworkId, 10000);
    const declined = async (): Promise<number> => (await service!.metrics.offersDeclined.get()).values[0]?.value ?? 0;
    // Offers arrive within an allocation cycle or two and are declined with a filter.
    await waitFor(async () => {
      const fw = (await masterFrameworks(cluster)).frameworks.find((f) => f.id === frameworkId);
      return fw !== undefined && fw.offers.length === 0 && (await declined()) >= 3;
    }, 10000);
    const received = (await service.metrics.offersReceived.get()).values[0]?.value ?? 0;
    expect(received).toBeGreaterThanOrEqual(await declined());
  });

  it('resumes the same framework after a restart, without the master removing it', async () => {
    service = await PollyService.start({ config: config(), logger: silentLogger });
    const first = await waitFor(() => service?.scheduler.isSubscribed && service.scheduler.frameworkId, 10000);
    await service.stop();
    service = undefined;
    // Disconnected but kept: failover_timeout is a week.
    await waitFor(async () => (await masterFrameworks(cluster)).frameworks.find((f) => f.id === first && !f.connected), 5000);
    service = await PollyService.start({ config: config(), logger: silentLogger });
    const second = await waitFor(() => service?.scheduler.isSubscribed && service.scheduler.frameworkId, 10000);
    expect(second).toBe(first);
    const state = await masterFrameworks(cluster);
    expect(state.frameworks.filter((f) => f.name === 'polly')).toHaveLength(1);
    expect(state.completed_frameworks).toHaveLength(0);
  });
});
