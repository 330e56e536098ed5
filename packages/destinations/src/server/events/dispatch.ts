/**
 * Sends one event to every destination that may have it: each on its own, with bounded
 * retries, so a slow or failing vendor never holds up or stops the others.
 *
 * @packageDocumentation
 */

import type { Destination } from '@c15t/destinations';
import type { SubjectConsent } from './consent.ts';
import type { OutboundEvent } from './event.ts';
import { SENDERS } from './vendors/index.ts';
import {
	type EventSender,
	httpVerdict,
	type SendContext,
	type Settings,
	type Verdict,
} from './vendors/types.ts';

/** What happened to the event at one destination. */
export type Outcome =
	/** The vendor accepted it. */
	| 'sent'
	/** The subject did not grant the destination's purpose. */
	| 'no_consent'
	/** c15t has no record of the subject. */
	| 'no_subject'
	/** c15t could not say what the subject granted, so nothing was sent. */
	| 'consent_unavailable'
	/** The destination lacks what its server API needs (its secret, usually). */
	| 'not_configured'
	/** The vendor cannot take this event (it needs a field the event lacks). */
	| 'skipped'
	/** The vendor refused it, or did not answer in time. */
	| 'failed';

export interface DestinationOutcome {
	readonly id: string;
	readonly type: string;
	readonly api: string;
	readonly outcome: Outcome;
	/** Requests made (retries included). */
	readonly attempts: number;
	/** The vendor's last HTTP status, if it answered. */
	readonly status?: number;
	/** The vendor's message or the reason, secrets removed. */
	readonly message?: string;
}

/** Attempts per destination and event, the first included. */
export const MAX_ATTEMPTS = 3;
/** How long one attempt may take. */
export const ATTEMPT_TIMEOUT_MS = 5_000;
/** The longest a destination may take in all; `waitUntil` gives 30 s after the answer. */
export const DESTINATION_BUDGET_MS = 20_000;
const BACKOFF_BASE_MS = 200;

export interface DispatchOptions {
	readonly context: SendContext;
	/** Setting keys that hold secrets, by kind slug (removed from every message). */
	readonly secretKeys: (slug: string) => readonly string[];
	readonly fetch?: typeof fetch;
	readonly sleep?: (ms: number) => Promise<void>;
	readonly random?: () => number;
}

/** The destinations that forward server-side events: enabled, of a kind with a server API. */
export function eventDestinations(
	destinations: readonly Destination[]
): readonly Destination[] {
	return destinations.filter((d) => d.enabled && SENDERS.has(d.type));
}

function redact(text: string, secrets: readonly string[]): string {
	let out = text;
	for (const secret of secrets) {
		if (secret.length > 0) {
			out = out.split(secret).join('***');
		}
	}
	return out;
}

const defaultSleep = (ms: number): Promise<void> =>
	new Promise((resolve) => setTimeout(resolve, ms));

/** The wait before attempt `n + 1` (full jitter), or what `Retry-After` asks if it is sooner than the budget. */
function backoff(
	attempt: number,
	retryAfter: string | null,
	random: () => number
): number {
	const seconds = retryAfter === null ? Number.NaN : Number(retryAfter);
	if (Number.isFinite(seconds) && seconds >= 0) {
		return Math.min(seconds * 1000, 5_000);
	}
	return Math.floor(random() * BACKOFF_BASE_MS * 2 ** (attempt - 1));
}

async function sendOne(
	destination: Destination,
	sender: EventSender,
	event: OutboundEvent,
	options: DispatchOptions
): Promise<DestinationOutcome> {
	const settings = destination.settings as Settings;
	const base = { id: destination.id, type: destination.type, api: sender.api };
	const secrets = options
		.secretKeys(destination.type)
		.map((key) => settings[key])
		.filter((v): v is string => typeof v === 'string');
	const request = sender.request(settings, event, options.context);
	if (request === null) {
		return {
			...base,
			outcome: 'not_configured',
			attempts: 0,
			message:
				sender.missing(settings) ?? 'the settings lack what the API needs',
		};
	}
	if ('skip' in request) {
		return { ...base, outcome: 'skipped', attempts: 0, message: request.skip };
	}
	const doFetch = options.fetch ?? fetch;
	const sleep = options.sleep ?? defaultSleep;
	const random = options.random ?? Math.random;
	const started = Date.now();
	let last: { status?: number; message: string } = { message: 'not sent' };
	for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt += 1) {
		let verdict: Verdict;
		let retryAfter: string | null = null;
		try {
			const response = await doFetch(request.url, {
				method: 'POST',
				headers: request.headers,
				body: request.body,
				redirect: 'manual',
				signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
			});
			const text = await response.text();
			retryAfter = response.headers.get('Retry-After');
			verdict = (sender.verdict ?? httpVerdict)(response.status, text);
			last = { status: response.status, message: verdict.message ?? '' };
		} catch (error) {
			const timedOut =
				error instanceof Error &&
				(error.name === 'TimeoutError' || error.name === 'AbortError');
			verdict = {
				ok: false,
				retry: true,
				message: timedOut
					? `no answer within ${ATTEMPT_TIMEOUT_MS / 1000} s`
					: 'could not be reached',
			};
			last = { message: verdict.message };
		}
		if (verdict.ok) {
			return {
				...base,
				outcome: 'sent',
				attempts: attempt,
				...(last.status === undefined ? {} : { status: last.status }),
				...(verdict.message === undefined
					? {}
					: { message: redact(verdict.message, secrets) }),
			};
		}
		const wait = backoff(attempt, retryAfter, random);
		if (
			!verdict.retry ||
			attempt === MAX_ATTEMPTS ||
			Date.now() - started + wait + ATTEMPT_TIMEOUT_MS > DESTINATION_BUDGET_MS
		) {
			return {
				...base,
				outcome: 'failed',
				attempts: attempt,
				...(last.status === undefined ? {} : { status: last.status }),
				message: `${sender.api}: ${redact(verdict.message, secrets)}`,
			};
		}
		await sleep(wait);
	}
	return {
		...base,
		outcome: 'failed',
		attempts: MAX_ATTEMPTS,
		message: last.message,
	};
}

/** Sends the event to every destination the subject's consent allows, all at once. */
export async function dispatch(
	destinations: readonly Destination[],
	consent: SubjectConsent,
	event: OutboundEvent,
	options: DispatchOptions
): Promise<readonly DestinationOutcome[]> {
	return await Promise.all(
		eventDestinations(destinations).map(async (destination) => {
			const sender = SENDERS.get(destination.type) as EventSender;
			const base = {
				id: destination.id,
				type: destination.type,
				api: sender.api,
				attempts: 0,
			};
			switch (consent.kind) {
				case 'unknown':
					return {
						...base,
						outcome: 'no_subject',
						message: 'c15t has no record of this subject',
					} as const;
				case 'unavailable':
					return {
						...base,
						outcome: 'consent_unavailable',
						message: consent.reason,
					} as const;
				case 'recorded':
					if (!consent.granted.has(destination.category)) {
						return {
							...base,
							outcome: 'no_consent',
							message: `the subject has not granted ${destination.category}`,
						} as const;
					}
					return await sendOne(destination, sender, event, options);
			}
		})
	);
}
