/** Outstanding offers, by ID, framework and agent. */
import type { Resource } from './resources';

export interface OfferRecord {
  id: string;
  frameworkId: string;
  agentId: string;
  role: string;
  /** Post-refinement resources with allocation_info. */
  resources: Resource[];
  timer?: NodeJS.Timeout;
}

export class OfferBook {
  private readonly offers = new Map<string, OfferRecord>();

  add(offer: OfferRecord): void {
    this.offers.set(offer.id, offer);
  }

  get(id: string): OfferRecord | undefined {
    return this.offers.get(id);
  }

  /** Forgets an offer (used, declined, rescinded); returns it if it was outstanding. */
  remove(id: string): OfferRecord | undefined {
    const offer = this.offers.get(id);
    if (!offer) return undefined;
    if (offer.timer) clearTimeout(offer.timer);
    this.offers.delete(id);
    return offer;
  }

  all(): OfferRecord[] {
    return [...this.offers.values()];
  }

  ofFramework(frameworkId: string): OfferRecord[] {
    return this.all().filter((o) => o.frameworkId === frameworkId);
  }

  onAgent(agentId: string): OfferRecord[] {
    return this.all().filter((o) => o.agentId === agentId);
  }

  clear(): void {
    for (const id of [...this.offers.keys()]) this.remove(id);
  }
}
