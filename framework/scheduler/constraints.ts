/**
 * Marathon placement constraints `[field, operator, value?]`. Fields: `hostname` (or `@hostname`),
 * `@zone`, `@region`, or any agent attribute. Operators: UNIQUE, CLUSTER, LIKE, UNLIKE, IS, GROUP_BY,
 * MAX_PER. LIKE and UNLIKE are regular expressions that must match the whole value.
 */
export type Constraint = [string, string] | [string, string, string];

/** What a constraint looks at: a candidate agent, or one where an instance already runs. */
export interface Placement {
  hostname: string;
  zone?: string;
  region?: string;
  attributes: Record<string, string>;
}

export const OPERATORS = ['UNIQUE', 'CLUSTER', 'LIKE', 'UNLIKE', 'IS', 'GROUP_BY', 'MAX_PER'] as const;
export type Operator = (typeof OPERATORS)[number];

const regexCache = new Map<string, RegExp>();

function fullMatch(pattern: string): RegExp {
  let re = regexCache.get(pattern);
  if (!re) {
    re = new RegExp(`^(?:${pattern})$`);
    if (regexCache.size > 1000) regexCache.clear();
    regexCache.set(pattern, re);
  }
  return re;
}

/** Why a constraint is malformed, or undefined. */
export function constraintProblem(c: readonly string[]): string | undefined {
  const [, operator, value] = c;
  if (!(OPERATORS as readonly string[]).includes(operator)) return `unknown operator ${JSON.stringify(operator)} (use ${OPERATORS.join(', ')})`;
  if ((operator === 'LIKE' || operator === 'UNLIKE' || operator === 'IS' || operator === 'MAX_PER') && value === undefined) {
    return `${operator} needs a value`;
  }
  if (operator === 'LIKE' || operator === 'UNLIKE') {
    try {
      fullMatch(value!);
    } catch {
      return `${JSON.stringify(value)} is not a regular expression`;
    }
  }
  if ((operator === 'MAX_PER' || (operator === 'GROUP_BY' && value !== undefined)) && !/^[1-9][0-9]{0,5}$/.test(value!)) {
    return `${operator} needs a positive integer`;
  }
  return undefined;
}

export function fieldValue(field: string, at: Placement): string | undefined {
  switch (field) {
    case 'hostname':
    case '@hostname':
      return at.hostname;
    case '@zone':
      return at.zone;
    case '@region':
      return at.region;
    default:
      return Object.prototype.hasOwnProperty.call(at.attributes, field) ? at.attributes[field] : undefined;
  }
}

/** How many of the placements have `value` in `field` (loops, not closures: this runs per candidate). */
function countWith(field: string, value: string, placed: readonly Placement[]): number {
  let n = 0;
  for (const p of placed) if (fieldValue(field, p) === value) n++;
  return n;
}

/** Whether one more instance on `candidate` keeps the constraint, given where the app already runs. */
export function satisfies(c: readonly string[], candidate: Placement, placed: readonly Placement[]): boolean {
  const [field, operator, value] = c;
  const mine = fieldValue(field, candidate);
  switch (operator as Operator) {
    case 'UNLIKE':
      return mine === undefined || !fullMatch(value!).test(mine);
    case 'LIKE':
      return mine !== undefined && fullMatch(value!).test(mine);
    case 'IS':
      return mine !== undefined && mine === value;
    case 'CLUSTER':
      if (mine === undefined) return false;
      if (value !== undefined && value !== '') return mine === value;
      return countWith(field, mine, placed) === placed.length;
    case 'UNIQUE':
      return mine !== undefined && countWith(field, mine, placed) === 0;
    case 'MAX_PER':
      return mine !== undefined && countWith(field, mine, placed) < Number(value);
    case 'GROUP_BY': {
      if (mine === undefined) return false;
      // Spread evenly: the candidate's group may not be ahead of the least used group seen.
      const counts = new Map<string, number>();
      for (const p of placed) {
        const v = fieldValue(field, p);
        if (v !== undefined) counts.set(v, (counts.get(v) ?? 0) + 1);
      }
      const groups = value === undefined ? undefined : Number(value);
      const own = counts.get(mine) ?? 0;
      if (groups !== undefined && counts.size < groups && !counts.has(mine)) return true;
      if (groups !== undefined && counts.size < groups) return own === 0;
      for (const n of counts.values()) if (own > n) return false;
      return true;
    }
    default:
      return false;
  }
}

export function satisfiesAll(constraints: readonly (readonly string[])[] | undefined, candidate: Placement, placed: readonly Placement[]): boolean {
  for (const c of constraints ?? []) if (!satisfies(c, candidate, placed)) return false;
  return true;
}
