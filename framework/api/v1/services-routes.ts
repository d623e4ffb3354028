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
