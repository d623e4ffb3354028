import type { AgentRegistry } from './agent-registry';
import type { StorageOfferBook } from './storage-offers';

/**
 * Refreshes the storage offers' driver capacity (per service, profile and zone) when an agent (so
 * maybe a zone) appears and every `intervalMs`. Refreshes never overlap: a request while one runs
 * makes exactly one more run after it, so 10,000 agents arriving at start cost two passes, not 10,000.
 */
export class CapacityRefresher {
  private running = false;
  private again = false;
  private stopped = false;
  private readonly timer: NodeJS.Timeout;
  private readonly onAgent: (e: { previous?: unknown }) => void;

  constructor(
    private readonly offers: StorageOfferBook,
    private readonly agents: AgentRegistry,
    intervalMs = 30_000,
  ) {
    this.onAgent = ({ previous }) => {
      if (!previous) this.kick();
    };
    agents.on('agent.changed', this.onAgent);
    this.timer = setInterval(() => this.kick(), intervalMs);
    this.timer.unref();
    this.kick();
  }

  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.offers
      .refreshCapacity()
      .catch(() => undefined)
      .finally(() => {
        this.running = false;
        if (this.again && !this.stopped) {
          this.again = false;
          this.kick();
        }
      });
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.agents.off('agent.changed', this.onAgent);
  }
}
