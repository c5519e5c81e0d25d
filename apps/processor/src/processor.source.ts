/** CloudEvents source of every event the processor records. */
export const PROCESSOR_SOURCE = '/sigillum/processor';
