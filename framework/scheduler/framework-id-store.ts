/** Where the Mesos framework ID lives, so a restarted Polly resumes the same framework. */
import { FRAMEWORK_ID_KEY as KEY } from '../state/keys';
import type { Store } from '../state/store';

export class FrameworkIdStore {
  constructor(private readonly store: Store) {}

  async load(): Promise<string | undefined> {
    const record = await this.store.get<{ value: string }>(KEY);
    return record?.value;
  }

  async save(value: string): Promise<void> {
    await this.store.put(KEY, { value, savedAt: new Date().toISOString() });
  }

  /** After Mesos says the framework was removed, the old ID is useless: start afresh next time. */
  async clear(): Promise<void> {
    await this.store.delete(KEY);
  }
}
