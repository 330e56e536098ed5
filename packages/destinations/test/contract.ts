// Type test (checked by `npm run typecheck`, never run): the server module implements the
// generated contract exactly; a missing or mistyped export fails the check.

import type * as Contract from '@c15t/destinations';
import * as impl from '../src/index.ts';

export const check: typeof Contract = impl;

// And nothing beyond it: every export of the implementation is part of the contract.
type Extra = Exclude<keyof typeof impl, keyof typeof Contract>;
export const noExtra: [Extra] extends [never] ? true : Extra = true;
