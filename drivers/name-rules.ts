/**
 * Validation for names that may reach a filesystem or a backend. Runs before anything is written:
 * a refused name leaves no trace.
 */
import { DriverInvalidError } from './errors';

export const MAX_NAME_LENGTH = 255;

// C0 controls, DEL and C1 controls (NUL included).
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

/** True when `text` holds NUL or another control character. */
export function hasControlChars(text: string): boolean {
  return CONTROL_CHARS.test(text);
}

/** Why `name` is unacceptable, or undefined when it is fine. */
export function nameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return 'must be a string';
  if (name.length === 0) return 'must not be empty';
  if (name.length > MAX_NAME_LENGTH) return `must be at most ${MAX_NAME_LENGTH} characters`;
  if (name === '.' || name === '..') return 'must not be "." or ".."';
  if (name.includes('/') || name.includes('\\')) return 'must not contain "/" or "\\"';
  if (CONTROL_CHARS.test(name)) return 'must not contain NUL or control characters';
  return undefined;
}

/** Throws DriverInvalidError unless `name` is a safe volume/snapshot name. */
export function assertValidName(name: unknown, what = 'name'): asserts name is string {
  const problem = nameProblem(name);
  if (problem !== undefined) {
    throw new DriverInvalidError(`invalid ${what}: ${problem}`, { [what]: typeof name === 'string' ? name.slice(0, 300) : typeof name });
  }
}

/** The case-insensitive key names are compared by (one function, so every comparison agrees). */
export function nameKey(name: string): string {
  return name.normalize('NFC').toLowerCase();
}
