/**
 * How deeply a request body may nest objects and arrays. JSON.parse copes with any depth, but the
 * code after it walks values recursively (structuredClone, schema validators, JSON.stringify) and
 * overflows the stack somewhere past a few thousand levels — a 500 instead of the 400 bad input
 * deserves. No real request comes near this bound.
 */
export const MAX_JSON_DEPTH = 64;

/** Whether `value` nests objects/arrays deeper than `limit` (walked without recursion; stops at the first too-deep value). */
export function nestsDeeperThan(value: unknown, limit: number = MAX_JSON_DEPTH): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (typeof current !== 'object' || current === null) continue;
    if (depth > limit) return true;
    for (const child of Array.isArray(current) ? current : Object.values(current)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}
