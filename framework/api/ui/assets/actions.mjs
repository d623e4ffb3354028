// Operator actions, each behind a confirmation dialog: create or remove a volume, offer it to a
// scheduler or revoke it, force-release a claim (with the reason the audit log records).

import { pathOf } from './api-client.mjs';
import { field, formDialog } from './dialogs.mjs';
import { code, h } from './dom.mjs';

export function createActions({ api, store, announce }) {
  function schedulerOptions() {
    const names = new Set(['polly']);
    for (const v of store.volumes.values()) for (const s of v.schedulers) names.add(s);
    return [...names].sort();
  }

  async function createVolume() {
    const services = store.services;
    const service = h(
      'select',
      { name: 'service', required: true },
      services.map((s) => h('option', { value: s.name }, s.name)),
    );
    const profile = h('select', { name: 'profile' });
    const fillProfiles = () => {
      const s = services.find((x) => x.name === service.value);
      profile.replaceChildren(...(s?.profiles ?? []).filter((p) => p.active).map((p) => h('option', { value: p.name }, p.name)));
    };
    service.addEventListener('change', fillProfiles);
    fillProfiles();
    const zones = [...new Set(store.agents.map((a) => a.zone).filter(Boolean))].sort();
    const zone = h(
      'select',
      { name: 'zone' },
      h('option', { value: '' }, 'No zone'),
      zones.map((z) => h('option', { value: z }, z)),
    );
    const name = h('input', { name: 'name', required: true, maxlength: '255', autocomplete: 'off', autofocus: true });
    const size = h('input', {
      name: 'size',
      type: 'number',
      min: '1',
      max: '1048576',
      step: '1',
      value: '1',
      required: true,
      inputmode: 'numeric',
    });
    const schedulers = h('input', { name: 'schedulers', autocomplete: 'off', placeholder: 'polly, marathon' });
    let created;
    const ok = await formDialog({
      title: 'Create a volume',
      description: 'Polly asks the service’s driver to create the volume now.',
      fields: [
        field('Service', service),
        field('Name', name, 'Letters, digits, dot, dash and underscore; unique per service.'),
        field('Profile', profile),
        field('Size (GiB)', size),
        field('Availability zone', zone),
        field('Offer to schedulers', schedulers, 'Comma-separated scheduler names (optional).'),
      ],
      submitLabel: 'Create volume',
      onSubmit: async () => {
        const body = { service: service.value, name: name.value.trim(), size: Number(size.value) };
        if (profile.value) body.profile = profile.value;
        if (zone.value) body.availabilityZone = zone.value;
        const list = schedulers.value
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        if (list.length > 0) body.schedulers = list;
        created = await api.post('/v1/volumes', body);
      },
    });
    if (ok && created) {
      store.volumes.set(created.id, created);
      store.dispatchEvent(new CustomEvent('change', { detail: new Set(['volumes']) }));
      announce(`Volume ${created.name} created`);
    }
    return ok ? created : undefined;
  }

  async function removeVolume(volume) {
    const ok = await formDialog({
      title: `Remove volume ${volume.name}?`,
      description: h('p', {}, 'The volume ', code(volume.id), ' and its data are deleted from the backend. This cannot be undone.'),
      submitLabel: 'Remove volume',
      danger: true,
      onSubmit: () => api.delete(pathOf('volumes', volume.id)),
    });
    if (ok) {
      store.volumes.delete(volume.id);
      store.dispatchEvent(new CustomEvent('change', { detail: new Set(['volumes']) }));
      announce(`Volume ${volume.name} removed`);
    }
    return ok;
  }

  async function offerVolume(volume) {
    const list = h(
      'datalist',
      { id: `offer-names-${Date.now()}` },
      schedulerOptions().map((n) => h('option', { value: n })),
    );
    const input = h('input', { name: 'scheduler', required: true, autocomplete: 'off', autofocus: true, list: list.id });
    let updated;
    const ok = await formDialog({
      title: `Offer ${volume.name} to a scheduler`,
      description: 'The scheduler can then see the volume and claim it.',
      fields: [field('Scheduler', input), list],
      submitLabel: 'Offer volume',
      onSubmit: async () => {
        updated = await api.patch(pathOf('volumes', volume.id), { offer: [input.value.trim()] });
      },
    });
    if (ok && updated) {
      store.volumes.set(updated.id, updated);
      store.dispatchEvent(new CustomEvent('change', { detail: new Set(['volumes']) }));
      announce(`${volume.name} offered to ${input.value.trim()}`);
    }
    return ok;
  }

  async function revokeVolume(volume, scheduler) {
    let updated;
    const ok = await formDialog({
      title: `Revoke ${volume.name} from ${scheduler}?`,
      description: `${scheduler} will no longer see this volume or be able to claim it. Claims it holds now are not released.`,
      submitLabel: 'Revoke offer',
      danger: true,
      onSubmit: async () => {
        updated = await api.patch(pathOf('volumes', volume.id), { revoke: [scheduler] });
      },
    });
    if (ok && updated) {
      store.volumes.set(updated.id, updated);
      store.dispatchEvent(new CustomEvent('change', { detail: new Set(['volumes']) }));
      announce(`${volume.name} revoked from ${scheduler}`);
    }
    return ok;
  }

  async function forceRelease(claim) {
    const reason = h('textarea', { name: 'reason', required: true, maxlength: '1024', rows: '3', autofocus: true });
    const ok = await formDialog({
      title: 'Force-release this claim?',
      description: h(
        'p',
        {},
        'Claim ',
        code(claim.id),
        ` (${claim.mode}, agent ${claim.agentId}${claim.taskId ? `, task ${claim.taskId}` : ''}) is detached even if its holder may still be running. ` +
          'The reason is recorded in the audit log.',
      ),
      fields: [field('Reason', reason, 'Required: why the holder is known to be gone.')],
      submitLabel: 'Force-release',
      danger: true,
      onSubmit: async () => {
        const updated = await api.post(pathOf('claims', claim.id, '/release'), { force: true, reason: reason.value.trim() });
        store.apply({ type: `claim.${updated.state}`, data: { claim: updated } });
      },
    });
    if (ok) announce(`Claim ${claim.id} force-released`);
    return ok;
  }

  return { createVolume, removeVolume, offerVolume, revokeVolume, forceRelease, schedulerOptions };
}
