import { EventFeed, TypedEmitter } from '../../../framework/shared/typed-emitter';

interface Events {
  value: number;
  tick: void;
}

class Source extends TypedEmitter<Events> {
  fire(n: number): void {
    this.emit('value', n);
    this.emit('tick');
  }
}

describe('TypedEmitter', () => {
  it('delivers typed payloads, once and off', () => {
    const s = new Source();
    const values: number[] = [];
    let ticks = 0;
    const onValue = (n: number): void => void values.push(n);
    s.on('value', onValue);
    s.once('tick', () => ticks++);
    s.fire(1);
    s.fire(2);
    s.off('value', onValue);
    s.fire(3);
    expect(values).toEqual([1, 2]);
    expect(ticks).toBe(1);
    expect(s.listenerCount('value')).toBe(0);
    // @ts-expect-error a misspelt event does not compile
    s.on('valeu', () => undefined);
    // @ts-expect-error a wrong payload type does not compile
    s.on('value', (x: string) => x);
  });
});

describe('EventFeed', () => {
  it('publishes to listeners, and a throwing listener never reaches the publisher', () => {
    const feed = new EventFeed<{ changed: { id: string } }>();
    const seen: string[] = [];
    feed.on('changed', ({ id }) => void seen.push(id));
    feed.publish('changed', { id: 'a' });
    feed.on('changed', () => {
      throw new Error('a broken listener');
    });
    expect(() => feed.publish('changed', { id: 'b' })).not.toThrow();
    expect(seen).toEqual(['a', 'b']);
  });
});
