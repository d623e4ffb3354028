import { EventJournal } from '../../../framework/api/event-journal';

describe('EventJournal', () => {
  it('keeps the newest events with increasing IDs and replays after an ID', () => {
    const j = new EventJournal(3, 100);
    for (let i = 0; i < 5; i++) j.publish('t', { i });
    expect(j.size).toBe(3);
    expect(j.since().events.map((e) => e.id)).toEqual([102, 103, 104]);
    expect(j.since(103)).toEqual({ events: [expect.objectContaining({ id: 104, data: { i: 4 } })], truncated: false });
    expect(j.since(101).truncated).toBe(false);
    expect(j.since(100).truncated).toBe(true);
    expect(j.since(104).events).toEqual([]);
    expect(j.lastId).toBe(104);
  });

  it('notifies subscribers until they unsubscribe; a throwing one does not hurt the publisher', () => {
    const j = new EventJournal(10);
    const seen: string[] = [];
    const off = j.subscribe((e) => seen.push(e.type));
    j.subscribe(() => {
      throw new Error('bad listener');
    });
    j.publish('a', {});
    off();
    j.publish('b', {});
    expect(seen).toEqual(['a']);
  });

  it('IDs of a restarted journal are above those of the previous one', () => {
    const first = new EventJournal(10);
    const last = first.publish('x', {}).id;
    const second = new EventJournal(10, Date.now() * 1000 + 1);
    expect(second.publish('y', {}).id).toBeGreaterThan(last);
  });
});
