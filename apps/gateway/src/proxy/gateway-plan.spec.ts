import { ConfigError, loadConfig } from '@sigillum/config';
import { gatewayPlan } from '../roles';
import { remoteRolesSetup } from './remote-roles';

const plan = (env: Record<string, string>) => gatewayPlan(loadConfig(env));
const local = (env: Record<string, string>) => plan(env).local.map((spec) => spec.role);

describe('gatewayPlan: ROLES and ROLE_URLS', () => {
  it('runs every role here by default', () => {
    expect(local({})).toEqual(['gateway', 'directory', 'certifier', 'domicile', 'processor', 'projections']);
    expect(plan({}).remote).toEqual({});
  });

  it('lets ROLE_URLS win over ROLES=all (the default): those roles are forwarded, not run here', () => {
    for (const env of [{}, { ROLES: 'all' }] as Record<string, string>[]) {
      const split = plan({ ...env, ROLE_URLS: 'directory=http://10.0.0.5:3001,processor=http://10.0.0.6:3004|http://10.0.0.7:3004' });
      expect(split.local.map((spec) => spec.role)).toEqual(['gateway', 'certifier', 'domicile', 'projections']);
      expect(split.remote).toEqual({ directory: ['http://10.0.0.5:3001'], processor: ['http://10.0.0.6:3004', 'http://10.0.0.7:3004'] });
    }
  });

  it('serves only its own routes and the forwarded ones with ROLES=gateway', () => {
    expect(local({ ROLES: 'gateway', ROLE_URLS: 'directory=http://10.0.0.5:3001' })).toEqual(['gateway']);
  });

  it('refuses a role named in an explicit ROLES list and in ROLE_URLS, naming it', () => {
    expect(() => plan({ ROLES: 'directory,certifier', ROLE_URLS: 'directory=http://10.0.0.5:3001' })).toThrow(ConfigError);
    expect(() => plan({ ROLES: 'directory,certifier', ROLE_URLS: 'directory=http://10.0.0.5:3001' })).toThrow(/directory is in ROLES and in ROLE_URLS/);
  });

  it('refuses a role on a thread of this process (ROLE_THREADS) and in ROLE_URLS, naming it', () => {
    expect(() => plan({ ROLE_THREADS: 'certifier', ROLE_URLS: 'certifier=http://10.0.0.5:3002' })).toThrow(/certifier is in ROLE_THREADS and in ROLE_URLS/);
    expect(local({ ROLE_THREADS: 'certifier' })).toContain('certifier'); // the plan runs it here; gatewaySetup puts it on its thread
  });
});

describe('remoteRolesSetup', () => {
  it('changes nothing without ROLE_URLS', () => {
    const setup = remoteRolesSetup(plan({}));
    expect(setup.appOptions).toEqual({});
    expect(setup.roles.map((spec) => spec.role)).toEqual(['gateway', 'directory', 'certifier', 'domicile', 'processor', 'projections']);
  });

  it('installs the proxy before the body parsers when some roles are remote', () => {
    const setup = remoteRolesSetup(plan({ ROLES: 'gateway', ROLE_URLS: 'directory=http://10.0.0.5:3001' }));
    expect(setup.appOptions.beforeBodyParsers).toEqual(expect.any(Function));
    expect(setup.roles).toHaveLength(1);
  });
});
