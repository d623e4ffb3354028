/** When a task counts as stranded: unaccounted for (TASK_UNKNOWN or unanswered) longer than the timeout, reported once. */
import { StrandedTasks } from '../../../framework/scheduler/stranded-tasks';

const T0 = Date.parse('2030-01-01T00:00:00Z');

test('an unknown task is stranded once the timeout has passed, and reported once', () => {
  const s = new StrandedTasks(1000);
  s.unknown('a', T0);
  expect(s.stranded('a', T0 + 999)).toBeUndefined();
  expect(s.newlyStranded(T0 + 999)).toEqual([]);
  expect(s.stranded('a', T0 + 1000)).toEqual({ since: '2030-01-01T00:00:00.000Z', reason: expect.stringMatching(/TASK_UNKNOWN/) });
  expect(s.newlyStranded(T0 + 1000).map((x) => x.taskId)).toEqual(['a']);
  expect(s.newlyStranded(T0 + 5000)).toEqual([]);
});

test('an unanswered question counts from when it was asked; an answer clears it; a new subscription forgets it', () => {
  const s = new StrandedTasks(1000);
  s.asked('a', T0);
  s.asked('a', T0 + 500); // asking again does not restart the clock
  s.asked('b', T0);
  expect(s.unanswered().sort()).toEqual(['a', 'b']);
  expect(s.stranded('a', T0 + 1000)?.reason).toMatch(/not answered/);
  s.heard('b');
  expect(s.stranded('b', T0 + 5000)).toBeUndefined();
  // Unanswered, then TASK_UNKNOWN: unaccounted for since the question.
  s.unknown('a', T0 + 800);
  expect(s.stranded('a', T0 + 1000)).toEqual({ since: '2030-01-01T00:00:00.000Z', reason: expect.stringMatching(/TASK_UNKNOWN/) });
  s.asked('c', T0);
  s.forgetUnanswered();
  expect(s.unanswered()).toEqual([]);
  expect(s.stranded('a', T0 + 1000)).toBeDefined(); // an answer (TASK_UNKNOWN) is not forgotten
});
