/** CloudEvents source of every event the certifier records. */
export const CERTIFIER_SOURCE = '/sigillum/certifier';
