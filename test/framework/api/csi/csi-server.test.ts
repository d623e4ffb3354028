/**
 * The CSI listener itself: socket permissions, stale and foreign sockets, readiness while storage
 * recovers, TCP with mutual TLS (the certificate's CN is the scheduler), per-RPC metrics and events.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { parseCsiEndpoint } from '../../../../framework/api/csi/csi-endpoint';
import { csiServices } from '../../../../framework/api/csi/csi-proto';
import { CsiServer } from '../../../../framework/api/csi/csi-server';
import { identityMethods } from '../../../../framework/api/csi/identity-service';
import { controllerEndpoint } from '../../../../framework/api/csi/start-csi-controller';
import { loadConfig } from '../../../../framework/config/config-loader';
import { codeOf, csiClient, MOUNT_SNW } from '../../../support/csi-client';
import { CsiFixture, makeCsiFixture } from '../../../support/csi-fixture';

/** A CA, a server certificate for localhost/127.0.0.1 and client certificates, made by openssl. */
function makePki(dir: string, clients: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const file = (name: string) => (out[name] = path.join(dir, name));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  execFileSync(
    'openssl',
    ['req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.crt'), '-subj', '/CN=polly-test-ca', '-days', '2'],
    { stdio: 'ignore' },
  );
  const sign = (name: string, cn: string, ext?: string) => {
    execFileSync('openssl', ['req', ...ec, '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`), '-subj', `/CN=${cn}`], {
      stdio: 'ignore',
    });
    const extra: string[] = [];
    if (ext) {
      fs.writeFileSync(file(`${name}.ext`), ext);
      extra.push('-extfile', out[`${name}.ext`]);
    }
    execFileSync(
      'openssl',
      [
        'x509',
        '-req',
        '-in',
        out[`${name}.csr`],
        '-CA',
        out['ca.crt'],
        '-CAkey',
        out['ca.key'],
        '-CAcreateserial',
        '-out',
        file(`${name}.crt`),
        '-days',
        '2',
        ...extra,
      ],
      { stdio: 'ignore' },
    );
  };
  sign('server', 'localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  for (const cn of clients) sign(`client-${cn.replace(/[^a-z]/gi, '')}`, cn);
  return out;
}

describe('CSI listener', () => {
  let f: CsiFixture | undefined;
  const extra: Array<() => Promise<void> | void> = [];

  afterEach(async () => {
    for (const undo of extra.splice(0).reverse()) await undo();
    await f?.dispose();
    f = undefined;
  });

  it('is a 0600 socket in a 0700 directory, removed when it stops', async () => {
    f = await makeCsiFixture();
    expect(fs.statSync(f.controllerSocket).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(f.controllerSocket)).mode & 0o777).toBe(0o700);
    expect(f.controller.endpoints).toEqual([`unix://${f.controllerSocket}`]);
    await f.controller.stop(0);
    expect(fs.existsSync(f.controllerSocket)).toBe(false);
  });

  it('answers Probe "not ready" and every controller call UNAVAILABLE while storage is not started', async () => {
    f = await makeCsiFixture({ startStorage: false });
    expect(await f.client.identity.Probe({})).toEqual({ ready: { value: false } });
    expect(await codeOf(f.client.controller.CreateVolume({ name: 'early', volume_capabilities: [MOUNT_SNW] }))).toEqual({
      code: 'UNAVAILABLE',
      message: 'Polly is recovering its storage state; retry shortly',
    });
    expect((await f.client.controller.ControllerGetCapabilities({})).capabilities.length).toBeGreaterThan(0);
    await f.storage.start();
    expect(await f.client.identity.Probe({})).toEqual({ ready: { value: true } });
    await f.client.controller.CreateVolume({ name: 'later', volume_capabilities: [MOUNT_SNW] });
  });

  it('reports its name, version, the spec it follows and its capabilities', async () => {
    f = await makeCsiFixture({ overrides: { 'csi.pluginName': 'storage.example.com' } });
    expect(await f.client.identity.GetPluginInfo({})).toEqual({
      name: 'storage.example.com',
      vendor_version: '0.1.0',
      manifest: { 'csi-spec': '1.12.0', polly: '0.1.0', role: 'controller' },
    });
    expect(
      (await f.client.identity.GetPluginCapabilities({})).capabilities.map(
        (c: { service?: { type: string }; volume_expansion?: { type: string } }) =>
          c.service?.type ?? `volume_expansion ${c.volume_expansion?.type}`,
      ),
    ).toEqual(['CONTROLLER_SERVICE', 'VOLUME_ACCESSIBILITY_CONSTRAINTS', 'volume_expansion ONLINE']);
  });

  it('takes over a stale socket, refuses a live one and anything that is not a socket (leaving it alone)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'polly-csi-sock-'));
    extra.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const services = csiServices();
    const serve = async (socket: string) => {
      const server = new CsiServer({ endpoint: { kind: 'unix', path: socket }, socketScheduler: 'csi' });
      server.addService('identity', services.identity, identityMethods({ pluginName: 'p', role: 'node', ready: () => true }));
      await server.listen();
      extra.push(() => server.close(0));
      return server;
    };
    // A socket file left by a process that died (SIGKILL): nobody answers on it any more.
    const stale = path.join(dir, 'stale.sock');
    const holder = spawn(
      process.execPath,
      ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => console.log('up'))`],
      {
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    extra.push(() => void holder.kill('SIGKILL'));
    await new Promise((resolve) => holder.stdout!.once('data', resolve));
    holder.kill('SIGKILL');
    await new Promise((resolve) => holder.once('exit', resolve));
    expect(fs.existsSync(stale)).toBe(true);
    await serve(stale);
    const client = csiClient(stale);
    extra.push(() => client.close());
    expect((await client.identity.GetPluginInfo({})).name).toBe('p');
    // Someone is serving there: refused, their socket untouched.
    await expect(serve(stale)).rejects.toThrow(/Another process is serving CSI on .*stale\.sock/);
    expect((await client.identity.GetPluginInfo({})).name).toBe('p');
    // Not a socket: refused and kept.
    const file = path.join(dir, 'file.sock');
    fs.writeFileSync(file, 'important');
    await expect(serve(file)).rejects.toThrow(/exists and is not a socket/);
    expect(fs.readFileSync(file, 'utf8')).toBe('important');
  });

  it("serves TCP only with client certificates, and the certificate's CN is the scheduler the caller acts as", async () => {
    const pkiDir = fs.mkdtempSync(path.join(os.tmpdir(), 'polly-csi-pki-'));
    extra.push(() => fs.rmSync(pkiDir, { recursive: true, force: true }));
    const pki = makePki(pkiDir, ['kubernetes', 'not a scheduler!']);
    f = await makeCsiFixture({
      overrides: {
        'csi.tcp': { host: '127.0.0.1', port: 0, certFile: pki['server.crt'], keyFile: pki['server.key'], caFile: pki['ca.crt'] },
      },
    });
    const tcp = f.controller.endpoints.find((e) => e.startsWith('tcp://'))!;
    expect(tcp).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    const as = (name: string) =>
      csiClient(
        tcp,
        grpc.credentials.createSsl(
          fs.readFileSync(pki['ca.crt']),
          fs.readFileSync(pki[`${name}.key`]),
          fs.readFileSync(pki[`${name}.crt`]),
        ),
      );
    const kube = as('client-kubernetes');
    extra.push(() => kube.close());
    const { volume } = await kube.controller.CreateVolume({ name: 'from-kube', volume_capabilities: [MOUNT_SNW] });
    expect(f.storage.catalog.get(volume.volume_id)).toMatchObject({
      schedulers: ['kubernetes'],
      labels: { 'csi.polly.io/created-by': 'kubernetes' },
    });
    // The socket's caller (scheduler csi) does not see kubernetes's volume, and vice versa.
    expect((await f.client.controller.ListVolumes({})).entries).toEqual([]);
    expect((await kube.controller.ListVolumes({})).entries).toHaveLength(1);
    const badName = as('client-notascheduler');
    extra.push(() => badName.close());
    expect(await codeOf(badName.controller.ListVolumes({}))).toMatchObject({
      code: 'UNAUTHENTICATED',
      message: expect.stringMatching(/common name/),
    });
    const anonymous = csiClient(tcp, grpc.credentials.createSsl(fs.readFileSync(pki['ca.crt'])));
    extra.push(() => anonymous.close());
    expect((await codeOf(anonymous.controller.ListVolumes({}))).code).toBe('UNAVAILABLE');
  });

  it('counts, times and journals every call by method and code', async () => {
    f = await makeCsiFixture({ overrides: { 'csi.acceptUnknownNodes': true } });
    const { volume } = await f.client.controller.CreateVolume({ name: 'metered', volume_capabilities: [MOUNT_SNW] });
    await codeOf(f.client.controller.CreateVolume({}));
    await f.client.controller.ControllerPublishVolume({ volume_id: volume.volume_id, node_id: 'n1', volume_capability: MOUNT_SNW });
    await f.client.controller.ListVolumes({});
    const text = await f.registry.metrics();
    expect(text).toContain('polly_csi_rpc_duration_seconds_count{service="controller",method="CreateVolume",code="OK"} 1');
    expect(text).toContain('polly_csi_rpc_duration_seconds_count{service="controller",method="CreateVolume",code="INVALID_ARGUMENT"} 1');
    expect(text).toContain('polly_csi_rpc_duration_seconds_count{service="controller",method="ListVolumes",code="OK"} 1');
    const calls = f.journal
      .since()
      .events.filter((e) => e.type === 'csi.call')
      .map((e) => e.data);
    expect(calls).toEqual([
      expect.objectContaining({ method: 'Controller/CreateVolume', code: 'OK', name: 'metered', scheduler: 'csi' }),
      expect.objectContaining({ method: 'Controller/CreateVolume', code: 'INVALID_ARGUMENT' }),
      expect.objectContaining({ method: 'Controller/ControllerPublishVolume', code: 'OK', volumeId: volume.volume_id, nodeId: 'n1' }),
    ]);
    expect(JSON.stringify(calls)).not.toContain('secret');
  });

  it('refuses a home whose default socket path is too long to bind, saying how to choose another', () => {
    const home = `/tmp/${'h'.repeat(100)}`;
    const config = loadConfig({ env: {}, file: '/dev/null', overrides: { home } }).csi;
    expect(() => controllerEndpoint(config, home)).toThrow(
      /csi.socket ".*controller.sock" is longer than the 107 bytes .*; set csi.socket to a shorter path, or csi.enabled: false to serve no CSI/,
    );
    expect(controllerEndpoint({ ...config, socket: '/run/polly/csi.sock' }, home)).toEqual({ kind: 'unix', path: '/run/polly/csi.sock' });
  });

  it('parses CSI endpoints and says what is wrong with a bad one', () => {
    expect(parseCsiEndpoint('unix:///run/csi/csi.sock')).toEqual({ kind: 'unix', path: '/run/csi/csi.sock' });
    expect(parseCsiEndpoint('/run/csi/csi.sock')).toEqual({ kind: 'unix', path: '/run/csi/csi.sock' });
    expect(parseCsiEndpoint('tcp://127.0.0.1:10000')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 10000 });
    expect(parseCsiEndpoint('tcp://[::1]:10000')).toEqual({ kind: 'tcp', host: '::1', port: 10000 });
    expect(() => parseCsiEndpoint('unix://relative.sock')).toThrow(/absolute socket path/);
    expect(() => parseCsiEndpoint(`unix:///${'x'.repeat(120)}`)).toThrow(/longer than the 107 bytes/);
    expect(() => parseCsiEndpoint('http://x:1')).toThrow(/expected unix:\/\/\/path\/to\/csi.sock or tcp:\/\/host:port/);
    expect(() => parseCsiEndpoint('')).toThrow(/is empty/);
  });
});
