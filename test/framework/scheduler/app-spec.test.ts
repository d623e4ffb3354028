import { ValidationError } from '../../../framework/errors/validation-error';
import { parseAppSpec, volumeNameFor } from '../../../framework/scheduler/app-spec';

const base = () => ({
  id: '/group/temp01',
  cmd: 'sleep 1',
  container: { type: 'MESOS', volumes: [{ containerPath: 'data', mode: 'RW', external: { name: 'vol-{{instance}}', provider: 'polly', options: { service: 'local' } } }] },
});

function fieldOf(body: unknown): string | undefined {
  try {
    parseAppSpec(body);
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as ValidationError).field;
  }
  return undefined;
}

describe('parseAppSpec', () => {
  it('normalises the ID and applies defaults', () => {
    const spec = parseAppSpec(base());
    expect(spec).toMatchObject({ id: 'group/temp01', cpus: 1, mem: 128, disk: 0, instances: 1 });
    expect(spec.container!.volumes[0].mode).toBe('RW');
    expect(volumeNameFor(spec.container!.volumes[0], 3)).toBe('vol-3');
  });

  it('accepts Marathon dvdi volumes with a driver', () => {
    const body = base();
    body.container.volumes[0].external = { name: 'v', provider: 'dvdi', options: { 'dvdi/driver': 'rexray' } } as never;
    expect(parseAppSpec(body).container!.volumes[0].external.provider).toBe('dvdi');
  });

  it.each([
    [{ ...base(), id: 'Bad_ID' }, 'id'],
    [{ ...base(), cpus: 0 }, 'cpus'],
    [{ ...base(), instances: 1001 }, 'instances'],
    [{ ...base(), ports: [1] }, 'ports'],
    [{ ...base(), constraints: [['hostname', 'NEAR']] }, 'constraints[0]'],
    [{ id: 'x' }, 'cmd'],
  ])('refuses %j naming %s', (body, field) => {
    expect(fieldOf(body)).toBe(field);
  });

  it('names the volume field at fault', () => {
    const slash = base();
    slash.container.volumes[0].external.name = 'a/b';
    expect(fieldOf(slash)).toBe('container.volumes[0].external.name');
    const noName = base() as { container: { volumes: Array<{ external: Record<string, unknown> }> } };
    delete noName.container.volumes[0].external.name;
    expect(fieldOf(noName)).toBe('container.volumes[0].external.name');
    const dvdi = base();
    dvdi.container.volumes[0].external = { name: 'v', provider: 'dvdi' } as never;
    expect(fieldOf(dvdi)).toBe('container.volumes[0].external.options');
    const up = base();
    up.container.volumes[0].containerPath = '../x';
    expect(fieldOf(up)).toBe('container.volumes[0].containerPath');
    const shared = { ...base(), instances: 2 };
    shared.container.volumes[0].external.name = 'one';
    expect(fieldOf(shared)).toBe('container.volumes[0].external.name');
  });

  it('does not change the body it is given', () => {
    const body = base();
    const copy = JSON.parse(JSON.stringify(body));
    parseAppSpec(body);
    expect(body).toEqual(copy);
  });
});
