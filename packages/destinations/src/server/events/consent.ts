/**
 * What a subject consented to, read from c15t itself: the worker's own c15t instance answers
 * `GET /subjects/:id` (no network hop), and the latest `cookie_banner` record's purposes are
 * the grants. The caller's word is never taken for it.
 *
 * @packageDocumentation
 */

import type { ConsentCategory } from '@c15t/destinations';
import { has } from 'c15t';
import { CONSENT_CATEGORIES } from '../catalogue.ts';
import { SUBJECT_ID } from './body.ts';

/** The part of a c15t instance the events route uses. */
export interface C15tInstance {
	readonly handler: (request: Request) => Promise<Response>;
}

/** A subject's consent as c15t recorded it. */
export type SubjectConsent =
	/** c15t knows the subject; `granted` holds the purposes of its latest banner record. */
	| {
			readonly kind: 'recorded';
			readonly granted: ReadonlySet<ConsentCategory>;
			/** When that record was given (ISO 8601), or null without a banner record. */
			readonly givenAt: string | null;
	  }
	/** c15t has no such subject. */
	| { readonly kind: 'unknown' }
	/** c15t could not answer; nothing may be forwarded. */
	| { readonly kind: 'unavailable'; readonly reason: string };

/** The name of c15t's consent cookie. */
export const CONSENT_COOKIE = 'c15t';

/**
 * The subject id in c15t's `c15t` cookie (`i.sid`, in c15t's flattened `key:value,...`
 * cookie format), or null.
 */
export function subjectFromCookie(header: string | null): string | null {
	if (header === null) {
		return null;
	}
	for (const part of header.split(';')) {
		const at = part.indexOf('=');
		if (at < 0 || part.slice(0, at).trim() !== CONSENT_COOKIE) {
			continue;
		}
		let value = part.slice(at + 1).trim();
		try {
			value = decodeURIComponent(value);
		} catch {
			// Not percent-encoded: c15t writes the value as it is.
		}
		for (const pair of value.split(',')) {
			const colon = pair.indexOf(':');
			if (colon > 0 && pair.slice(0, colon) === 'i.sid') {
				const id = pair.slice(colon + 1);
				return SUBJECT_ID.test(id) ? id : null;
			}
		}
	}
	return null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
	return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function time(value: unknown): number {
	const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
	return Number.isNaN(ms) ? Number.NEGATIVE_INFINITY : ms;
}

/**
 * The purposes a consent state grants, decided by c15t's own `has()`: the state starts from
 * c15t's defaults (only `necessary`) and takes the record's booleans for c15t's purposes.
 */
export function grantedBy(
	preferences: Readonly<Record<string, unknown>> | null
): ReadonlySet<ConsentCategory> {
	const state: Record<ConsentCategory, boolean> = {
		necessary: true,
		functionality: false,
		measurement: false,
		experience: false,
		marketing: false,
	};
	if (preferences !== null) {
		for (const category of CONSENT_CATEGORIES) {
			if (category !== 'necessary' && preferences[category] === true) {
				state[category] = true;
			}
		}
	}
	return new Set(CONSENT_CATEGORIES.filter((c) => has(c, state)));
}

/** Reads a subject's latest banner consent through the c15t instance's own handler. */
export async function subjectConsent(
	c15t: C15tInstance,
	origin: string,
	subjectId: string
): Promise<SubjectConsent> {
	const url = new URL(`/subjects/${encodeURIComponent(subjectId)}`, origin);
	url.searchParams.set('type', 'cookie_banner');
	let response: Response;
	try {
		response = await c15t.handler(
			new Request(url, { headers: { Accept: 'application/json' } })
		);
	} catch (error) {
		return {
			kind: 'unavailable',
			reason: `c15t failed: ${error instanceof Error ? error.message : String(error)}`,
		};
	}
	if (response.status === 404) {
		await response.body?.cancel();
		return { kind: 'unknown' };
	}
	if (!response.ok) {
		await response.body?.cancel();
		return {
			kind: 'unavailable',
			reason: `c15t answered ${response.status} to GET /subjects/:id`,
		};
	}
	let body: unknown;
	try {
		body = await response.json();
	} catch {
		return { kind: 'unavailable', reason: 'c15t answered with invalid JSON' };
	}
	const consents = isRecord(body) ? body['consents'] : undefined;
	if (!Array.isArray(consents)) {
		return {
			kind: 'unavailable',
			reason: 'c15t answered without a `consents` list',
		};
	}
	let latest: Record<string, unknown> | null = null;
	for (const consent of consents) {
		if (!isRecord(consent) || consent['type'] !== 'cookie_banner') {
			continue;
		}
		if (latest === null || time(consent['givenAt']) > time(latest['givenAt'])) {
			latest = consent;
		}
	}
	const preferences =
		latest !== null && isRecord(latest['preferences'])
			? latest['preferences']
			: null;
	return {
		kind: 'recorded',
		granted: grantedBy(preferences),
		givenAt:
			latest !== null && typeof latest['givenAt'] === 'string'
				? latest['givenAt']
				: null,
	};
}
