/**
 * Storage offers (DESIGN §3): for each (scheduler, agent), the volumes the scheduler may attach there
 * (offered to it through the volume's `schedulers` ACL, zone-compatible with the agent, not held by a
 * live RW claim) and the capacity it could provision per (service, profile).
 *
 * Kept up to date incrementally: volume and claim events move one volume between index buckets
 * (scheduler → zone → volume IDs; a volume without a zone lives in the zoneless bucket, compatible
 * everywhere). An offer's content is read from two buckets when asked for; nothing ever scans every
 * volume. Offers have IDs `<scheduler>-<agent>-<seq>`; when the facts behind an issued offer change
 * (a volume in its buckets, the agent, capacity) it is rescinded and replaced by one with a new ID.
 */
import { isLive } from '../storage/claim-record';
import type { StorageService } from '../storage/storage-service';
import type { VolumeRecord } from '../storage/volume-record';
import { Logger, silentLogger } from '../shared/logger';
import { TypedEmitter } from '../shared/typed-emitter';
import type { AgentRecord, AgentRegistry } from './agent-registry';
import { listedZonesInclude } from './volume-zones';

export interface OfferedVolumeView {
  id: string;
  name: string;
  service: string;
  size: number;
  type?: string;
  iops?: number;
  availabilityZone?: string;
  status: string;
}

export interface CapacityView {
  service: string;
  profile: string;
  mapping: string;
  /** Undefined when the driver cannot tell. */
  availableGiB?: number;
  totalGiB?: number;
  minSizeGiB?: number;
  maxSizeGiB?: number;
}

export interface StorageOfferView {
  id: string;
  scheduler: string;
  agentId: string;
  hostname: string;
  zone?: string;
  region?: string;
  volumes: OfferedVolumeView[];
  capacity: CapacityView[];
  issuedAt: string;
}

export interface StorageOfferEvents {
  'offer.rescinded': { offerId: string; scheduler: string; agentId: string; reason: string; replacedBy?: string };
}

export interface StorageOfferBookOptions {
  storage: StorageService;
  agents: AgentRegistry;
  logger?: Logger;
}

/** Zoneless volumes are compatible with every agent. */
const ANY_ZONE = '';

interface IssuedOffer {
  id: string;
  scheduler: string;
  agentId: string;
  zoneKey: string;
  issuedAt: string;
}

function addTo<K, V>(index: Map<K, Set<V>>, key: K, value: V): void {
  let set = index.get(key);
  if (!set) index.set(key, (set = new Set()));
  set.add(value);
}

function removeFrom<K, V>(index: Map<K, Set<V>>, key: K, value: V): void {
  const set = index.get(key);
  if (!set) return;
  set.delete(value);
  if (set.size === 0) index.delete(key);
}

export class StorageOfferBook extends TypedEmitter<StorageOfferEvents> {
  private readonly storage: StorageService;
  private readonly agents: AgentRegistry;
  private readonly logger: Logger;
  /** scheduler → zone key → attachable volume IDs. */
  private readonly attachable = new Map<string, Map<string, Set<string>>>();
  /**
   * Attachable volumes only, each with the record that put it in its buckets (its schedulers and
   * zone say which ones; the catalog holds the same frozen record, so this costs a map entry). At
   * 1,000,000 volumes an object per volume here was ~100 MB.
   */
  private readonly indexed = new Map<string, VolumeRecord>();
  /** `<scheduler>\0<agentId>` → the offer currently issued. */
  private readonly issued = new Map<string, IssuedOffer>();
  /** `<scheduler>\0<zoneKey>` → issued offer keys whose content reads that bucket. */
  private readonly issuedByBucket = new Map<string, Set<string>>();
  private readonly issuedByAgent = new Map<string, Set<string>>();
  /** `<service>\0<profile>\0<zone>` → capacity the driver reported. */
  private readonly capacityCache = new Map<string, { availableGiB: number; totalGiB: number } | null>();
  private seq = 0;
  private readonly unsubscribe: Array<() => void> = [];

  constructor(options: StorageOfferBookOptions) {
    super();
    this.storage = options.storage;
    this.agents = options.agents;
    this.logger = options.logger ?? silentLogger;
  }

  /** Indexes the catalog once (the only full walk) and follows storage and agent events from then on. */
  start(): void {
    // Nothing is issued yet, so nothing can be rescinded: volumes go straight into their buckets.
    for (const volume of this.storage.catalog.all()) if (this.isAttachableNow(volume)) this.fileVolume(volume);
    const events = this.storage.events;
    const onVolume = ({ volume }: { volume: VolumeRecord }): void => this.reindex(volume);
    const onRemoved = ({ volume }: { volume: VolumeRecord }): void => this.drop(volume.id);
    const onClaim = ({ claim }: { claim: { volumeId: string } }): void => {
      const volume = this.storage.catalog.find(claim.volumeId);
      if (volume) this.reindex(volume);
    };
    events.on('volume.created', onVolume);
    events.on('volume.updated', onVolume);
    events.on('volume.removed', onRemoved);
    for (const e of ['claim.pending', 'claim.attaching', 'claim.attached', 'claim.releasing', 'claim.released', 'claim.failed'] as const) {
      events.on(e, onClaim);
      this.unsubscribe.push(() => events.off(e, onClaim));
    }
    const onAgent = ({ agent, previous }: { agent: AgentRecord; previous?: AgentRecord }): void => {
      if (previous) this.rescindAgent(agent.agentId, `agent ${agent.hostname} changed (${agent.state})`);
    };
    this.agents.on('agent.changed', onAgent);
    this.unsubscribe.push(
      () => events.off('volume.created', onVolume),
      () => events.off('volume.updated', onVolume),
      () => events.off('volume.removed', onRemoved),
      () => this.agents.off('agent.changed', onAgent),
    );
  }

  stop(): void {
    for (const u of this.unsubscribe.splice(0)) u();
  }

  /** Whether `volume` may be attached by `scheduler` on `agent` right now (O(1)). */
  isAttachable(volumeId: string, scheduler: string, agent: Pick<AgentRecord, 'zone'>): boolean {
    const v = this.indexed.get(volumeId);
    if (!v || !v.schedulers.includes(scheduler)) return false;
    const zoneKey = zoneKeyOf(v);
    return (zoneKey === ANY_ZONE || zoneKey === agent.zone) && listedZonesInclude(v, agent.zone);
  }

  /** The current offers of a scheduler (all active agents, or one). */
  list(filter: { scheduler: string; agentId?: string }): StorageOfferView[] {
    const agents = filter.agentId !== undefined ? [this.agents.get(filter.agentId)].filter((a): a is AgentRecord => a !== undefined) : this.agents.list();
    return agents.filter((a) => a.state === 'active').map((a) => this.offerFor(filter.scheduler, a));
  }

  /** Refreshes the cached capacity of every (service, profile) in every known zone. */
  async refreshCapacity(): Promise<void> {
    const zones = [...new Set([...this.agents.zones(), ''])];
    for (const service of this.storage.registry.list()) {
      for (const profile of service.definition.profiles) {
        for (const zone of zones) {
          const key = `${service.name}\u0000${profile.name}\u0000${zone}`;
          try {
            const capacity = await service.driver.capacity(
              { profile: profile.name, type: profile.type, iops: profile.iops, encrypted: profile.encrypted },
              zone || undefined,
            );
            const before = this.capacityCache.get(key);
            const after = capacity ? { availableGiB: capacity.availableGiB, totalGiB: capacity.totalGiB } : null;
            this.capacityCache.set(key, after);
            if (JSON.stringify(before) !== JSON.stringify(after) && before !== undefined) this.rescindAll(`capacity of ${service.name}/${profile.name} changed`);
          } catch (err) {
            this.logger.warn('capacity query failed', { service: service.name, profile: profile.name, zone, error: (err as Error).message });
          }
        }
      }
    }
  }

  private offerFor(scheduler: string, agent: AgentRecord): StorageOfferView {
    const key = `${scheduler}\u0000${agent.agentId}`;
    let offer = this.issued.get(key);
    if (!offer) offer = this.issue(scheduler, agent);
    const volumes: OfferedVolumeView[] = [];
    const buckets = this.attachable.get(scheduler);
    for (const zoneKey of agent.zone === undefined ? [ANY_ZONE] : [agent.zone, ANY_ZONE]) {
      for (const id of buckets?.get(zoneKey) ?? []) {
        const v = this.storage.catalog.find(id);
        // A regional volume sits in the zoneless bucket but is offered only where it is accessible.
        if (!v || (zoneKey === ANY_ZONE && !listedZonesInclude(v, agent.zone))) continue;
        const view: OfferedVolumeView = { id: v.id, name: v.name, service: v.service, size: v.size, status: v.status };
        if (v.type !== undefined) view.type = v.type;
        if (v.iops !== undefined) view.iops = v.iops;
        if (v.availabilityZone !== undefined) view.availabilityZone = v.availabilityZone;
        volumes.push(view);
      }
    }
    const capacity: CapacityView[] = [];
    for (const service of this.storage.registry.list()) {
      for (const profile of service.definition.profiles) {
        if (!profile.active) continue;
        const entry: CapacityView = { service: service.name, profile: profile.name, mapping: service.definition.mapping };
        const known = this.capacityCache.get(`${service.name}\u0000${profile.name}\u0000${agent.zone ?? ''}`);
        if (known) {
          entry.availableGiB = known.availableGiB;
          entry.totalGiB = known.totalGiB;
        }
        if (profile.minSizeGiB !== undefined) entry.minSizeGiB = profile.minSizeGiB;
        if (profile.maxSizeGiB !== undefined) entry.maxSizeGiB = profile.maxSizeGiB;
        capacity.push(entry);
      }
    }
    const out: StorageOfferView = { id: offer.id, scheduler, agentId: agent.agentId, hostname: agent.hostname, volumes, capacity, issuedAt: offer.issuedAt };
    if (agent.zone !== undefined) out.zone = agent.zone;
    if (agent.region !== undefined) out.region = agent.region;
    return out;
  }

  private issue(scheduler: string, agent: AgentRecord): IssuedOffer {
    const key = `${scheduler}\u0000${agent.agentId}`;
    const offer: IssuedOffer = {
      id: `${scheduler}-${agent.agentId}-${++this.seq}`,
      scheduler,
      agentId: agent.agentId,
      zoneKey: agent.zone || ANY_ZONE,
      issuedAt: new Date().toISOString(),
    };
    this.issued.set(key, offer);
    addTo(this.issuedByBucket, `${scheduler}\u0000${offer.zoneKey}`, key);
    addTo(this.issuedByAgent, agent.agentId, key);
    return offer;
  }

  private rescind(key: string, reason: string): void {
    const offer = this.issued.get(key);
    if (!offer) return;
    this.issued.delete(key);
    removeFrom(this.issuedByBucket, `${offer.scheduler}\u0000${offer.zoneKey}`, key);
    removeFrom(this.issuedByAgent, offer.agentId, key);
    const agent = this.agents.get(offer.agentId);
    let replacedBy: string | undefined;
    if (agent && agent.state === 'active') replacedBy = this.issue(offer.scheduler, agent).id;
    this.emit('offer.rescinded', { offerId: offer.id, scheduler: offer.scheduler, agentId: offer.agentId, reason, ...(replacedBy ? { replacedBy } : {}) });
  }

  private rescindAgent(agentId: string, reason: string): void {
    for (const key of [...(this.issuedByAgent.get(agentId) ?? [])]) this.rescind(key, reason);
  }

  private rescindAll(reason: string): void {
    for (const key of [...this.issued.keys()]) this.rescind(key, reason);
  }

  /** The offers whose content reads this (scheduler, zone) bucket; zoneless volumes affect every zone. */
  private rescindBucket(scheduler: string, zoneKey: string, reason: string): void {
    if (zoneKey === ANY_ZONE) {
      for (const [key, offer] of [...this.issued]) if (offer.scheduler === scheduler) this.rescind(key, reason);
      return;
    }
    for (const key of [...(this.issuedByBucket.get(`${scheduler}\u0000${zoneKey}`) ?? [])]) this.rescind(key, reason);
  }

  /** Whether a volume may be attached by a new writer now (the schedulers and zone aside). */
  private isAttachableNow(volume: VolumeRecord): boolean {
    if (!volume.managed || volume.status === 'removing' || volume.status === 'missing') return false;
    // An attachment no claim accounts for holds the volume too: the driver would refuse a writer.
    if (volume.foreignAttachments !== undefined) return false;
    const { ledger } = this.storage;
    // Most volumes have no live claim: answered without building a list.
    return ledger.liveCount(volume.id) === 0 || !ledger.liveClaims(volume.id).some((c) => isLive(c) && c.mode === 'RW');
  }

  private reindex(volume: VolumeRecord): void {
    const before = this.indexed.get(volume.id);
    const attachable = this.isAttachableNow(volume);
    if (before && attachable && zoneKeyOf(before) === zoneKeyOf(volume) && sameList(before.schedulers, volume.schedulers)) {
      this.indexed.set(volume.id, volume); // the same buckets: only the record is newer
      return;
    }
    if (!before && !attachable) return;
    if (before) this.unfileVolume(before);
    if (attachable) this.fileVolume(volume);
    const touched = new Set<string>();
    for (const v of before && attachable ? [before, volume] : [before ?? volume]) {
      for (const scheduler of v.schedulers) touched.add(`${scheduler}\u0000${zoneKeyOf(v)}`);
    }
    for (const bucket of touched) {
      const [scheduler, zoneKey] = bucket.split('\u0000') as [string, string];
      this.rescindBucket(scheduler, zoneKey, `volume ${volume.id} changed`);
    }
  }

  private drop(volumeId: string): void {
    const before = this.indexed.get(volumeId);
    if (!before) return;
    this.unfileVolume(before);
    for (const s of before.schedulers) this.rescindBucket(s, zoneKeyOf(before), `volume ${volumeId} removed`);
  }

  /** Puts an attachable volume into the bucket of each of its schedulers. */
  private fileVolume(volume: VolumeRecord): void {
    this.indexed.set(volume.id, volume);
    const zoneKey = zoneKeyOf(volume);
    for (const scheduler of volume.schedulers) {
      let zones = this.attachable.get(scheduler);
      if (!zones) this.attachable.set(scheduler, (zones = new Map()));
      addTo(zones, zoneKey, volume.id);
    }
  }

  private unfileVolume(before: VolumeRecord): void {
    this.indexed.delete(before.id);
    const zoneKey = zoneKeyOf(before);
    for (const scheduler of before.schedulers) {
      const zones = this.attachable.get(scheduler);
      if (!zones) continue;
      removeFrom(zones, zoneKey, before.id);
      if (zones.size === 0) this.attachable.delete(scheduler);
    }
  }
}

function zoneKeyOf(volume: VolumeRecord): string {
  return volume.availabilityZone || ANY_ZONE;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
