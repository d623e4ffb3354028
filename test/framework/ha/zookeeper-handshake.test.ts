/**
 * A ZooKeeper server that accepts a connection but never answers the session handshake (what a
 * restarting server does to a client that connects while it starts up) must not hang the session:
 * ZkSession gives up on that connection and tries again. Found by the ZooKeeper-restart test, where
 * it left Polly without a session after roughly one restart in ten.
 */
import net from 'node:net';
import { ZkSession } from '../../../framework/shared/zookeeper/zk-session';
import { waitFor } from '../../support/mesos-http';
import { useZooKeeperServer } from '../../support/zookeeper-server';

jest.setTimeout(60_000);

/** A TCP proxy to `target` that holds its first `silent` connections open without forwarding a byte. */
async function silentFirstProxy(target: number, silent: number): Promise<{ port: number; held: () => number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let held = 0;
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    if (held < silent) {
      held++;
      return; // accepted, never answered
    }
    const upstream = net.connect({ host: '127.0.0.1', port: target });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    held: () => held,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('ZkSession and a server that does not answer the handshake', () => {
  const zk = useZooKeeperServer();
  const cleanups: Array<() => Promise<void> | void> = [];

  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('gives up on the silent connection and establishes the session on the next one', async () => {
    const proxy = await silentFirstProxy(zk().port, 1);
    cleanups.push(proxy.close);
    const session = new ZkSession({ servers: `127.0.0.1:${proxy.port}`, sessionTimeoutMs: 2000, operationTimeoutMs: 20_000 });
    cleanups.push(() => session.close());
    await session.start();
    expect(proxy.held()).toBe(1);
    expect(session.isConnected).toBe(true);
    await session.mkdirp('/handshake-test');
    expect(await session.exists('/handshake-test')).toBeDefined();
  });

  it('reconnects to the same session when the reconnection meets a silent server', async () => {
    const session = new ZkSession({ servers: zk().connectString, sessionTimeoutMs: 4000, operationTimeoutMs: 20_000 });
    cleanups.push(() => session.close());
    await session.start();
    const id = session.sessionId;
    // The connection drops; the first reconnection attempt lands on a server that never answers.
    const client = (session as unknown as { client: { connectionManager: { servers: Array<{ host: string; port: number }>; socket: net.Socket } } }).client;
    const proxy = await silentFirstProxy(zk().port, 1);
    cleanups.push(proxy.close);
    client.connectionManager.servers = [{ host: '127.0.0.1', port: proxy.port }];
    client.connectionManager.socket.destroy();
    await waitFor(() => !session.isConnected, 5000);
    await waitFor(() => session.isConnected, 15_000, 20);
    expect(proxy.held()).toBe(1);
    expect(session.sessionId).toBe(id);
  });
});
