/** The call budget: started by the first call, shared by nested operations, fresh on request, gone with its operation. */
import { CallBudget, currentCallBudget, withCallBudget } from '../../drivers/call-budget';

describe('CallBudget', () => {
  it('starts with the first call and is not moved by later ones', () => {
    let now = 1000;
    const budget = new CallBudget(() => now);
    expect(budget.remainingMs()).toBeUndefined();
    expect(budget.totalMs).toBeUndefined();
    budget.start(300);
    now += 100;
    budget.start(5_000);
    expect(budget.totalMs).toBe(300);
    expect(budget.remainingMs()).toBe(200);
    now += 1_000;
    expect(budget.remainingMs()).toBe(0);
  });
});

describe('withCallBudget', () => {
  it('opens a budget for the operation, shares it with nested ones, and opens a fresh one when asked', async () => {
    expect(currentCallBudget()).toBeUndefined();
    await withCallBudget(async (outer) => {
      expect(currentCallBudget()).toBe(outer);
      await withCallBudget(async (nested) => expect(nested).toBe(outer));
      await withCallBudget(async (fresh) => {
        expect(fresh).not.toBe(outer);
        expect(currentCallBudget()).toBe(fresh);
      }, { fresh: true });
      expect(currentCallBudget()).toBe(outer);
    });
    expect(currentCallBudget()).toBeUndefined();
  });

  it('closes the budget with its operation: work that outlives it gets a budget of its own', async () => {
    let later: Promise<CallBudget> | undefined;
    let first: CallBudget | undefined;
    await withCallBudget(async (budget) => {
      first = budget;
      // A timer started inside the operation runs after it has ended.
      later = new Promise((resolve) => setTimeout(() => resolve(withCallBudget(async (b) => b)), 5));
    });
    expect(first!.isOpen).toBe(false);
    const second = await later!;
    expect(second).not.toBe(first);
  });

  it('closes the budget when the operation throws', async () => {
    let seen: CallBudget | undefined;
    await expect(
      withCallBudget(async (budget) => {
        seen = budget;
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(seen!.isOpen).toBe(false);
  });
});
