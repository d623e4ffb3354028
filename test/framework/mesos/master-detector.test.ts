import { MasterUrlError, parseMasterUrl, StaticMasterDetector } from '../../../framework/mesos/master-detector';

describe('parseMasterUrl', () => {
  it('accepts http and https and normalises the path', () => {
    expect(parseMasterUrl('http://m1:5050').href).toBe('http://m1:5050/');
    expect(parseMasterUrl('https://m1:5050/mesos?x=1#y').href).toBe('https://m1:5050/mesos/');
  });

  it('rejects other schemes and garbage with a clear error', () => {
    expect(() => parseMasterUrl('zk://zk1:2181/mesos')).toThrow(/ZooKeeper detector/);
    expect(() => parseMasterUrl('ftp://m1')).toThrow(MasterUrlError);
    expect(() => parseMasterUrl('m1:5050')).toThrow(MasterUrlError);
    expect(() => parseMasterUrl('not a url')).toThrow(/Invalid Mesos master URL/);
  });
});

describe('StaticMasterDetector', () => {
  it('needs at least one URL and validates all of them', () => {
    expect(() => new StaticMasterDetector([])).toThrow(MasterUrlError);
    expect(() => new StaticMasterDetector(['http://a:5050', 'zk://b:2181/mesos'])).toThrow(MasterUrlError);
  });

  it('rotates through the list on failure', async () => {
    const d = new StaticMasterDetector(['http://a:5050', 'http://b:5050', 'http://c:5050']);
    const seen: string[] = [];
    d.onChange((u) => seen.push(u.host));
    expect((await d.current()).host).toBe('a:5050');
    d.failed(new URL('http://a:5050/'));
    expect((await d.current()).host).toBe('b:5050');
    d.failed(new URL('http://a:5050/')); // stale report: already moved on
    expect((await d.current()).host).toBe('b:5050');
    d.failed(new URL('http://b:5050'));
    d.failed(new URL('http://c:5050'));
    expect((await d.current()).host).toBe('a:5050');
    expect(seen).toEqual(['b:5050', 'c:5050', 'a:5050']);
  });

  it('remembers a redirected leader until it fails', async () => {
    const d = new StaticMasterDetector(['http://a:5050', 'http://b:5050']);
    const seen: string[] = [];
    const off = d.onChange((u) => seen.push(u.href));
    d.redirected(new URL('http://leader:5050/'));
    expect((await d.current()).href).toBe('http://leader:5050/');
    d.redirected(new URL('http://leader:5050')); // same leader: no change event
    d.failed(new URL('http://leader:5050/'));
    expect((await d.current()).href).toBe('http://a:5050/');
    off();
    d.failed(new URL('http://a:5050/'));
    expect(seen).toEqual(['http://leader:5050/', 'http://a:5050/']);
  });

  it('hands out copies and refuses after close', async () => {
    const d = new StaticMasterDetector(['http://a:5050']);
    const u = await d.current();
    u.host = 'evil:1';
    expect((await d.current()).host).toBe('a:5050');
    d.close();
    await expect(d.current()).rejects.toThrow(/closed/);
  });
});
