import { constraintProblem, Placement, satisfies, satisfiesAll } from '../../../framework/scheduler/constraints';

const at = (hostname: string, zone: string, attributes: Record<string, string> = {}): Placement => ({ hostname, zone, region: 'r1', attributes: { rack: 'r-' + hostname, ...attributes } });
const n0 = at('node0', 'zone-a');
const n1 = at('node1', 'zone-a');
const n2 = at('node2', 'zone-b');

describe('constraints', () => {
  it('hostname UNIQUE: one instance per host', () => {
    expect(satisfies(['hostname', 'UNIQUE'], n0, [])).toBe(true);
    expect(satisfies(['hostname', 'UNIQUE'], n0, [n0])).toBe(false);
    expect(satisfies(['hostname', 'UNIQUE'], n1, [n0])).toBe(true);
  });

  it('CLUSTER with a value pins; without one follows the first placement', () => {
    expect(satisfies(['@zone', 'CLUSTER', 'zone-b'], n2, [])).toBe(true);
    expect(satisfies(['@zone', 'CLUSTER', 'zone-b'], n0, [])).toBe(false);
    expect(satisfies(['@zone', 'CLUSTER'], n0, [])).toBe(true);
    expect(satisfies(['@zone', 'CLUSTER'], n1, [n0])).toBe(true);
    expect(satisfies(['@zone', 'CLUSTER'], n2, [n0])).toBe(false);
    expect(satisfies(['hostname', 'CLUSTER', 'node1'], n1, [])).toBe(true);
  });

  it('LIKE and UNLIKE match the whole value', () => {
    expect(satisfies(['hostname', 'LIKE', 'node0'], n0, [])).toBe(true);
    expect(satisfies(['hostname', 'LIKE', 'node'], n0, [])).toBe(false);
    expect(satisfies(['hostname', 'LIKE', 'node[01]'], n1, [])).toBe(true);
    expect(satisfies(['hostname', 'UNLIKE', 'node[01]'], n1, [])).toBe(false);
    expect(satisfies(['hostname', 'UNLIKE', 'node[01]'], n2, [])).toBe(true);
    expect(satisfies(['rack', 'LIKE', 'r-node.*'], n2, [])).toBe(true);
  });

  it('IS on attributes, @zone and @region; missing attributes fail all but UNLIKE', () => {
    expect(satisfies(['rack', 'IS', 'r-node0'], n0, [])).toBe(true);
    expect(satisfies(['@region', 'IS', 'r1'], n0, [])).toBe(true);
    expect(satisfies(['@zone', 'IS', 'zone-a'], n2, [])).toBe(false);
    expect(satisfies(['gpu', 'IS', 'yes'], n0, [])).toBe(false);
    expect(satisfies(['gpu', 'UNLIKE', 'yes'], n0, [])).toBe(true);
    expect(satisfies(['gpu', 'UNIQUE'], n0, [])).toBe(false);
  });

  it('MAX_PER and GROUP_BY spread', () => {
    expect(satisfies(['@zone', 'MAX_PER', '2'], n1, [n0])).toBe(true);
    expect(satisfies(['@zone', 'MAX_PER', '2'], n1, [n0, n0])).toBe(false);
    expect(satisfies(['@zone', 'GROUP_BY', '2'], n1, [n0])).toBe(false);
    expect(satisfies(['@zone', 'GROUP_BY', '2'], n2, [n0])).toBe(true);
    expect(satisfies(['@zone', 'GROUP_BY'], n1, [n0, n2])).toBe(true);
  });

  it('all constraints must hold', () => {
    expect(satisfiesAll([['@zone', 'IS', 'zone-a'], ['hostname', 'UNIQUE']], n1, [n0])).toBe(true);
    expect(satisfiesAll([['@zone', 'IS', 'zone-a'], ['hostname', 'UNIQUE']], n0, [n0])).toBe(false);
    expect(satisfiesAll(undefined, n0, [])).toBe(true);
  });

  it('names malformed constraints', () => {
    expect(constraintProblem(['hostname', 'NEAR'])).toMatch(/unknown operator/);
    expect(constraintProblem(['hostname', 'LIKE'])).toMatch(/needs a value/);
    expect(constraintProblem(['hostname', 'LIKE', '(['])).toMatch(/regular expression/);
    expect(constraintProblem(['hostname', 'MAX_PER', 'x'])).toMatch(/positive integer/);
    expect(constraintProblem(['hostname', 'UNIQUE'])).toBeUndefined();
  });
});
