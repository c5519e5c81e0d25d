import type { KeyAlgorithm, OperatorRole, OperatorSpecification, PartyKind, SecondChannelKind } from '@sigillum/contracts';
import type { PublicKeyInspection } from './public-key';

// What the directory is asked to do with a party (see party.decider.ts).

//////// Commands

export type KeyUse = 'signature' | 'encryption';

export type RegisterParty = {
  readonly type: 'RegisterParty';
  readonly partyId: string;
  readonly kind: PartyKind;
  readonly operatorRole?: OperatorRole;
  readonly displayName: string;
  /** Identity attributes declared at registration; each becomes an IdentityAttributeDeclared. */
  readonly attributes?: readonly { readonly name: string; readonly value: string }[];
  readonly now: Date;
};
export type RenameParty = { readonly type: 'RenameParty'; readonly partyId: string; readonly displayName: string; readonly now: Date };
export type DeclareAttribute = {
  readonly type: 'DeclareAttribute';
  readonly partyId: string;
  readonly name: string;
  readonly value: string;
  readonly now: Date;
};
/** The code is generated and sent by the handler; the decider only ever sees its HMAC verifier. */
export type EnrolChannel = {
  readonly type: 'EnrolChannel';
  readonly partyId: string;
  readonly channelId: string;
  readonly kind: SecondChannelKind;
  readonly address: string;
  readonly verifier: string;
  readonly verifierKeyId: string;
  readonly codeTtlSeconds: number;
  readonly maxAttempts: number;
  readonly maxChannels: number;
  readonly now: Date;
};
/** `codeMatches` is the handler's constant-time check of the typed code against the channel's verifier. */
export type VerifyChannel = {
  readonly type: 'VerifyChannel';
  readonly partyId: string;
  readonly channelId: string;
  readonly codeMatches: boolean;
  readonly now: Date;
};
export type RemoveChannel = { readonly type: 'RemoveChannel'; readonly partyId: string; readonly channelId: string; readonly now: Date };
export type RegisterPublicKey = {
  readonly type: 'RegisterPublicKey';
  readonly partyId: string;
  /** Id the key gets if it is new. */
  readonly keyId: string;
  readonly algorithm: KeyAlgorithm;
  readonly use: KeyUse;
  /** The handler's reading of the PEM with node:crypto. */
  readonly key: PublicKeyInspection;
  readonly maxKeys: number;
  readonly now: Date;
};
export type RevokePublicKey = {
  readonly type: 'RevokePublicKey';
  readonly partyId: string;
  readonly keyId: string;
  readonly reason: string;
  readonly now: Date;
};
export type RegisterSpecification = {
  readonly type: 'RegisterSpecification';
  readonly partyId: string;
  readonly specification: OperatorSpecification;
  readonly now: Date;
};
export type PartyCommand =
  RegisterParty | RenameParty | DeclareAttribute | EnrolChannel | VerifyChannel | RemoveChannel | RegisterPublicKey | RevokePublicKey | RegisterSpecification;
