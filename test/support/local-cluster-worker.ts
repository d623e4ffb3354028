/**
 * Child process for the local cluster restart tests: runs a LocalCluster on a work dir until it is
 * killed (the test SIGKILLs it, as a crashed Polly would die, leaving its task processes running).
 * Prints `{"url": ...}` once the cluster is up.
 *
 * Usage: node -r test/support/register-ts.js test/support/local-cluster-worker.ts WORKDIR AGENTS_JSON
 */
import { LocalCluster } from '../../framework/mesos/local/local-cluster';
import type { AgentSpecInput } from '../../framework/mesos/local/agent-spec';
import { runWorker } from './worker-main';

async function main(): Promise<void> {
  const [workDir, agents] = process.argv.slice(2);
  const cluster = await LocalCluster.start({
    port: 0,
    workDir,
    heartbeatIntervalSeconds: 0.2,
    allocationIntervalMs: 50,
    statusUpdateRetry: { minMs: 100, maxMs: 400 },
    agents: JSON.parse(agents) as AgentSpecInput[],
  });
  process.stdout.write(`${JSON.stringify({ url: cluster.url })}\n`);
  await new Promise(() => undefined);
}

runWorker(main);
