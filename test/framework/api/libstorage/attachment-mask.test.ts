/**
 * Every `?attachments` mask 0-31 over a volume attached to the caller, one attached elsewhere and
 * one unattached, checked against the rules of reference §2.1 written out literally here.
 */
import { parseAttachmentMask } from '../../../../framework/api/libstorage/attachment-mask';
import { iid, LsFixture, makeLsFixture } from './libstorage-fixture';

type Situation = 'mine' | 'elsewhere' | 'unattached';

/** §2.1: state from all attachments (2 caller's, 4 someone else's or no caller, 3 none). */
function expectedState(s: Situation, callerKnown: boolean): 2 | 3 | 4 {
  if (s === 'unattached') return 3;
  if (s === 'mine' && callerKnown) return 2;
  return 4;
}

/** §2.1 "Mask filtering", clause by clause. */
function expectedOmitted(state: number, mask: number): boolean {
  const b = (bit: number): boolean => (mask & bit) !== 0;
  if (state === 3 && b(8) && !b(16)) return true;
  if ((state === 2 || state === 4) && !b(8) && b(16)) return true;
  if (b(2) && b(8) && ((state === 3 && !b(16)) || state === 4)) return true;
  return false;
}

let f: LsFixture;
const ids: Record<Situation, string> = { mine: '', elsewhere: '', unattached: '' };

beforeAll(async () => {
  f = await makeLsFixture();
  for (const s of ['mine', 'elsewhere', 'unattached'] as Situation[]) {
    const r = await f.call('POST', '/volumes/local', { body: { name: s, size: 1 } });
    ids[s] = r.body.id;
  }
  expect(
    (await f.call('POST', `/volumes/local/${ids.mine}?attach`, { body: { nextDeviceName: '/dev/xvdb' }, headers: iid('node0') })).status,
  ).toBe(200);
  expect(
    (await f.call('POST', `/volumes/local/${ids.elsewhere}?attach`, { body: { nextDeviceName: '/dev/xvdc' }, headers: iid('node1') }))
      .status,
  ).toBe(200);
});
afterAll(async () => f.dispose());

const masks = Array.from({ length: 32 }, (_, i) => i);

describe.each(masks)('mask %i', (mask) => {
  it('lists and inspects as §2.1 says (caller node0)', async () => {
    const list = await f.call('GET', `/volumes/local?attachments=${mask}`, { headers: iid('node0') });
    expect(list.status).toBe(200);
    for (const s of ['mine', 'elsewhere', 'unattached'] as Situation[]) {
      const id = ids[s];
      const listed = list.body[id];
      const one = await f.call('GET', `/volumes/local/${id}?attachments=${mask}`, { headers: iid('node0') });
      if (mask === 0) {
        expect(listed).toBeDefined();
        expect(listed.attachments).toBeUndefined();
        expect(listed.attachmentState).toBeUndefined();
        expect(one.status).toBe(200);
        continue;
      }
      const state = expectedState(s, true);
      if (expectedOmitted(state, mask)) {
        expect({ s, listed }).toEqual({ s, listed: undefined });
        expect(one.status).toBe(404);
        continue;
      }
      expect({ s, state: listed?.attachmentState }).toEqual({ s, state });
      expect(one.body.attachmentState).toBe(state);
      // Mine (2) shows only the caller's attachments; otherwise every attachment.
      const shown = (listed.attachments ?? []).map((a: { instanceID: { id: string } }) => a.instanceID.id);
      const expected = s === 'mine' ? ['node0'] : s === 'elsewhere' && (mask & 2) === 0 ? ['node1'] : [];
      expect({ s, shown }).toEqual({ s, shown: expected });
    }
  });

  if ((mask & 6) === 0) {
    it('without an instance ID, the caller owns nothing (state 4 for every attached volume)', async () => {
      const list = await f.call('GET', `/volumes/local?attachments=${mask}`);
      expect(list.status).toBe(200);
      if (mask === 0) return;
      for (const s of ['mine', 'elsewhere', 'unattached'] as Situation[]) {
        const state = expectedState(s, false);
        const listed = list.body[ids[s]];
        if (expectedOmitted(state, mask)) expect(listed).toBeUndefined();
        else expect(listed.attachmentState).toBe(state);
      }
    });
  } else {
    it('needs the instance ID: 400 per service and across services alike (upstream: 500 batch processing error)', async () => {
      const one = await f.call('GET', `/volumes/local?attachments=${mask}`);
      const all = await f.call('GET', `/volumes?attachments=${mask}`);
      expect(one.status).toBe(400);
      expect(all.status).toBe(400);
      expect(all.body).toEqual({ message: 'missing instance ID', status: 400, error: { service: 'local' } });
      expect((await f.call('GET', `/volumes?attachments=${mask}&async`)).status).toBe(400);
    });
  }
});

describe('parseAttachmentMask', () => {
  it.each([
    [undefined, 0],
    ['', 15],
    ['true', 15],
    ['false', 1],
    ['7', 7],
    ['31', 31],
    ['33', 1],
    ['abc', 0],
    [['1', '8'], 8],
  ])('%j → %i', (value, mask) => {
    expect(parseAttachmentMask(value)).toBe(mask);
  });

  it('treats a bare ?attachments as 15 on the wire', async () => {
    const r = await f.call('GET', `/volumes/local/${ids.elsewhere}?attachments`, { headers: iid('node0') });
    // 15 includes Mine + Attached: a volume attached elsewhere is omitted (REX-Ray's "resource not found").
    expect(r.status).toBe(404);
  });
});
