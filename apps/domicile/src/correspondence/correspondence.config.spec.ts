import { ConfigError } from '@sigillum/config';
import { loadCorrespondenceConfig } from './correspondence.config';

describe('loadCorrespondenceConfig', () => {
  it('gives recipients 15 days by default', () => {
    expect(loadCorrespondenceConfig({})).toEqual({ acceptanceWindowSeconds: 15 * 24 * 3600 });
  });

  it('reads days, or seconds for tests and demos', () => {
    expect(loadCorrespondenceConfig({ ACCEPTANCE_WINDOW_DAYS: '30' })).toEqual({ acceptanceWindowSeconds: 30 * 24 * 3600 });
    expect(loadCorrespondenceConfig({ ACCEPTANCE_WINDOW_SECONDS: '90' })).toEqual({ acceptanceWindowSeconds: 90 });
  });

  it('refuses a bad value, or both variables at once', () => {
    expect(() => loadCorrespondenceConfig({ ACCEPTANCE_WINDOW_DAYS: '0' })).toThrow(ConfigError);
    expect(() => loadCorrespondenceConfig({ ACCEPTANCE_WINDOW_DAYS: 'fifteen' })).toThrow(/ACCEPTANCE_WINDOW_DAYS/);
    expect(() => loadCorrespondenceConfig({ ACCEPTANCE_WINDOW_SECONDS: '-5' })).toThrow(/ACCEPTANCE_WINDOW_SECONDS/);
    expect(() => loadCorrespondenceConfig({ ACCEPTANCE_WINDOW_DAYS: '15', ACCEPTANCE_WINDOW_SECONDS: '60' })).toThrow(/not both/);
  });
});
