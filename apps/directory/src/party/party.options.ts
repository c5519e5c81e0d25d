/** Limits of the directory's party commands; the module provides the defaults, tests and deployments may override. */
export interface DirectoryOptions {
  /** Digits of a channel-verification code (6 to 12). */
  readonly channelCodeLength: number;
  /** How long a channel-verification code stays valid. */
  readonly channelCodeTtlSeconds: number;
  /** Wrong codes allowed before the enrolment is closed. */
  readonly channelMaxAttempts: number;
  /** Second channels a party may hold at once (verified or pending). */
  readonly maxChannelsPerParty: number;
  /** Public keys a party may hold unrevoked at once. */
  readonly maxKeysPerParty: number;
}

export const DIRECTORY_OPTIONS = Symbol('DIRECTORY_OPTIONS');

export const DEFAULT_DIRECTORY_OPTIONS: DirectoryOptions = {
  channelCodeLength: 6,
  channelCodeTtlSeconds: 600,
  channelMaxAttempts: 3,
  maxChannelsPerParty: 5,
  maxKeysPerParty: 20,
};
