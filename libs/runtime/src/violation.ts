/** One thing wrong with a request: the field, the rule it broke, and what to do (the 4xx body lists them). */
export interface Violation {
  /** Dotted path of the offending field, e.g. `address.city`. */
  readonly field: string;
  /** The class-validator rule that failed, e.g. `isEnum`, or `whitelist` for an unknown field. */
  readonly rule: string;
  readonly message: string;
}
