/** Mesos' ID formats (Master::newFrameworkId/newOfferId/newSlaveId). */
import { randomUUID } from 'node:crypto';

export class MasterIds {
  readonly masterId: string;
  private frameworks = 0;
  private offers = 0;
  private agents: number;

  /** `firstAgent` lets a failed-over master keep numbering agents after those that re-register. */
  constructor(masterId: string = randomUUID(), firstAgent = 0) {
    this.masterId = masterId;
    this.agents = firstAgent;
  }

  nextFrameworkId(): string {
    return `${this.masterId}-${String(this.frameworks++).padStart(4, '0')}`;
  }

  nextOfferId(): string {
    return `${this.masterId}-O${this.offers++}`;
  }

  nextAgentId(): string {
    return `${this.masterId}-S${this.agents++}`;
  }
}

/** A random v4 UUID as the 16 raw bytes Mesos puts in `TaskStatus.uuid`. */
export function uuidBytes(): Uint8Array {
  return Buffer.from(randomUUID().replace(/-/g, ''), 'hex');
}
