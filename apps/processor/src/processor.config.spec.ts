import * as path from 'node:path';
import { ConfigError } from '@sigillum/config';
import { DEFAULT_TSA_POLICY_OID, loadProcessorConfig } from './processor.config';

describe('processor configuration', () => {
  it('defaults: documentation-reserved TSA policy, archive and print jobs under DATA_DIR, 10 years', () => {
    expect(loadProcessorConfig({}, '/data')).toEqual({
      tsaPolicyOid: DEFAULT_TSA_POLICY_OID,
      archiveDir: path.resolve('/data/archive'),
      printJobsDir: path.resolve('/data/print-jobs'),
      retentionYears: 10,
    });
  });

  it('reads every variable', () => {
    const config = loadProcessorConfig(
      { PROCESSOR_TSA_POLICY_OID: '1.2.3.4', PROCESSOR_ARCHIVE_DIR: '/vault', PROCESSOR_PRINT_JOBS_DIR: '/spool', PROCESSOR_RETENTION_YEARS: '30' },
      '/data',
    );
    expect(config).toEqual({ tsaPolicyOid: '1.2.3.4', archiveDir: path.resolve('/vault'), printJobsDir: path.resolve('/spool'), retentionYears: 30 });
  });

  it('names every bad variable at once', () => {
    let error: unknown;
    try {
      loadProcessorConfig({ PROCESSOR_TSA_POLICY_OID: 'policy-1', PROCESSOR_RETENTION_YEARS: '0' }, '/data');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      expect.stringContaining('PROCESSOR_TSA_POLICY_OID="policy-1"'),
      expect.stringContaining('PROCESSOR_RETENTION_YEARS="0"'),
    ]);
    expect(() => loadProcessorConfig({ PROCESSOR_RETENTION_YEARS: '101' }, '/d')).toThrow(ConfigError);
    expect(() => loadProcessorConfig({ PROCESSOR_RETENTION_YEARS: '2.5' }, '/d')).toThrow(ConfigError);
  });
});
