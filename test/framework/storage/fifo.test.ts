import { Fifo } from '../../../framework/storage/fifo';

describe('Fifo', () => {
  it('hands items out in the order they went in, across compactions', () => {
    const fifo = new Fifo<number>();
    const out: number[] = [];
    let next = 0;
    // Interleaved pushes and shifts, long enough to cut the consumed front off many times.
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 3000; i++) fifo.push(next++);
      for (let i = 0; i < 2000; i++) out.push(fifo.shift()!);
    }
    expect(fifo.length).toBe(next - out.length);
    for (let item = fifo.shift(); item !== undefined; item = fifo.shift()) out.push(item);
    expect(out).toEqual(Array.from({ length: next }, (_, i) => i));
    expect(fifo.length).toBe(0);
    expect(fifo.shift()).toBeUndefined();
  });

  it('deletes one waiting item, not a consumed one', () => {
    const fifo = new Fifo<string>();
    for (const s of ['a', 'b', 'c', 'b']) fifo.push(s);
    expect(fifo.shift()).toBe('a');
    expect(fifo.delete('a')).toBe(false);
    expect(fifo.delete('b')).toBe(true);
    expect(fifo.length).toBe(2);
    expect([fifo.shift(), fifo.shift(), fifo.shift()]).toEqual(['c', 'b', undefined]);
    expect(fifo.delete('zz')).toBe(false);
  });
});
