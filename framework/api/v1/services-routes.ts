/** `/v1/services`: the configured storage services and their profiles (read-only; they come from the config). */
import { Router } from 'express';
import type { Profile } from '../../storage/profile';
import type { ServiceRegistry, StorageService as ConfiguredService } from '../../storage/service-registry';

export interface ServiceView {
  name: string;
  driver: string;
  mapping: string;
  dockerVolumeDriver?: string;
  timeoutMs: number;
  profiles: ProfileView[];
  /** For a csi service: how it reaches its plugin, and what the plugin said about itself at start. */
  csi?: CsiServiceView;
}

export interface CsiServiceView {
  endpoint: string;
  topologyKey: string;
  accessType: string;
  /** Name, version, capabilities (absent until the plugin answered). */
  plugin?: { name: string; version: string; capabilities: string[] };
}

export type ProfileView = Omit<Profile, 'service'> & { used: boolean };

function profileView(registry: ServiceRegistry, p: Profile): ProfileView {
  const { service: _service, ...rest } = p;
  return { ...rest, used: registry.isUsed(p) };
}

function serviceView(registry: ServiceRegistry, s: ConfiguredService): ServiceView {
  const d = s.definition;
  const view: ServiceView = {
    name: s.name,
    driver: d.driver,
    mapping: d.mapping,
    timeoutMs: d.timeoutMs,
    profiles: d.profiles.map((p) => profileView(registry, p)),
  };
  if (d.dockerVolumeDriver) view.dockerVolumeDriver = d.dockerVolumeDriver;
  if (d.csi) {
    view.csi = { endpoint: d.csi.endpoint, topologyKey: d.csi.topologyKey, accessType: d.csi.accessType };
    const plugin = s.driver.describe?.().plugin;
    if (plugin) view.csi.plugin = { name: plugin.name, version: plugin.version, capabilities: plugin.capabilities };
  }
  return view;
}

export function servicesRoutes(registry: ServiceRegistry): Router {
  const router = Router();
  router.get('/services', (_req, res) => {
    res.json({ services: registry.list().map((s) => serviceView(registry, s)) });
  });
  router.get('/services/:name', (req, res) => {
    res.json(serviceView(registry, registry.get(req.params.name)));
  });
  router.get('/services/:name/profiles', (req, res) => {
    res.json({ profiles: registry.get(req.params.name).definition.profiles.map((p) => profileView(registry, p)) });
  });
  router.get('/services/:name/profiles/:profile', (req, res) => {
    res.json(profileView(registry, registry.profile(req.params.name, req.params.profile)));
  });
  return router;
}
