/**
 * `POST {basePath}/events`: a site or the customer's backend sends an event; the worker
 * answers `202` at once and, off the request's critical path (`ctx.waitUntil`), reads what the
 * subject consented to from c15t and forwards the event to every enabled destination with a
 * server API whose purpose the subject granted. `?debug=1` (with the worker's debug secret)
 * waits for the vendors and answers with what happened at each.
 *
 * @packageDocumentation
 */

import type { Destination } from '@c15t/destinations';
import {
	EVENT_SCHEMA,
	type EventBody,
	MAX_BODY_BYTES,
	parseEventBody,
} from './body.ts';
import {
	type C15tInstance,
	type SubjectConsent,
	subjectConsent,
	subjectFromCookie,
} from './consent.ts';
import {
	type DestinationOutcome,
	type Outcome,
	dispatch,
	eventDestinations,
} from './dispatch.ts';
import { outboundEvent, requestFacts } from './event.ts';
import type { SendContext } from './vendors/types.ts';

/** What `ExecutionContext` gives the route. */
export interface WaitUntil {
	waitUntil(promise: Promise<unknown>): void;
}

export interface EventsRouteOptions {
	readonly c15t: C15tInstance | null;
	readonly destinations: readonly Destination[];
	/** The worker's environment: `C15T_EVENTS_DEBUG_SECRET`, `C15T_ENDPOINT_<NAME>`. */
	readonly env: object | null;
	readonly secretKeys: (slug: string) => readonly string[];
}

export const DEBUG_SECRET_VAR = 'C15T_EVENTS_DEBUG_SECRET';
export const ENDPOINT_VAR_PREFIX = 'C15T_ENDPOINT_';

const JSON_TYPE = 'application/json; charset=utf-8';

function envString(env: object | null, name: string): string | null {
	if (env === null) {
		return null;
	}
	const value: unknown = Reflect.get(env, name);
	return typeof value === 'string' && value !== '' ? value : null;
}

function sendContext(env: object | null, debug: boolean): SendContext {
	return {
		debug,
		base(name, fallback) {
			const override = envString(env, `${ENDPOINT_VAR_PREFIX}${name}`);
			return override !== null && /^https?:\/\//.test(override)
				? override
				: fallback;
		},
	};
}

/** Compares two secrets in time that does not depend on where they differ. */
function sameSecret(a: string, b: string): boolean {
	const x = new TextEncoder().encode(a);
	const y = new TextEncoder().encode(b);
	let diff = x.length ^ y.length;
	for (let i = 0; i < Math.max(x.length, y.length); i += 1) {
		diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
	}
	return diff === 0;
}

function counts(
	outcomes: readonly DestinationOutcome[]
): Record<Outcome, number> {
	const tally: Record<Outcome, number> = {
		sent: 0,
		no_consent: 0,
		no_subject: 0,
		consent_unavailable: 0,
		not_configured: 0,
		skipped: 0,
		failed: 0,
	};
	for (const o of outcomes) {
		tally[o.outcome] += 1;
	}
	return tally;
}

function consentView(consent: SubjectConsent): Record<string, unknown> {
	switch (consent.kind) {
		case 'recorded':
			return {
				found: true,
				granted: [...consent.granted],
				givenAt: consent.givenAt,
			};
		case 'unknown':
			return { found: false };
		case 'unavailable':
			return { found: null, error: consent.reason };
	}
}

async function readJson(
	request: Request
): Promise<
	{ ok: true; json: unknown } | { ok: false; status: number; message: string }
> {
	const type = (request.headers.get('Content-Type') ?? '')
		.split(';')[0]
		?.trim()
		.toLowerCase();
	// `text/plain` too, so `navigator.sendBeacon(url, JSON.stringify(event))` works without a preflight.
	if (type !== 'application/json' && type !== 'text/plain') {
		return {
			ok: false,
			status: 415,
			message:
				'the body must be JSON: send `Content-Type: application/json` (or text/plain)',
		};
	}
	const length = Number(request.headers.get('Content-Length') ?? '0');
	if (length > MAX_BODY_BYTES) {
		return {
			ok: false,
			status: 413,
			message: `the body must be at most ${MAX_BODY_BYTES} bytes`,
		};
	}
	const bytes = await request.arrayBuffer();
	if (bytes.byteLength > MAX_BODY_BYTES) {
		return {
			ok: false,
			status: 413,
			message: `the body must be at most ${MAX_BODY_BYTES} bytes`,
		};
	}
	try {
		return {
			ok: true,
			json: JSON.parse(
				new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(
					bytes
				)
			),
		};
	} catch {
		return {
			ok: false,
			status: 400,
			message: 'the body is not valid UTF-8 JSON',
		};
	}
}

/**
 * The events route. `headers` carries the CORS headers the handler decided on; the answer
 * adds to them.
 */
export function createEventsRoute(options: EventsRouteOptions): {
	handle(
		request: Request,
		headers: Headers,
		ctx: WaitUntil | undefined
	): Promise<Response>;
	schema(headers: Headers): Response;
} {
	const destinations = eventDestinations(options.destinations);
	const answer = (
		headers: Headers,
		status: number,
		body: unknown
	): Response => {
		headers.set('Content-Type', JSON_TYPE);
		headers.set('Cache-Control', 'no-store');
		return new Response(JSON.stringify(body), { status, headers });
	};

	const work = async (
		request: Request,
		body: EventBody,
		subjectId: string,
		debug: boolean
	): Promise<{
		consent: SubjectConsent;
		outcomes: readonly DestinationOutcome[];
		eventId: string;
	}> => {
		const c15t = options.c15t as C15tInstance;
		const consent = await subjectConsent(
			c15t,
			new URL(request.url).origin,
			subjectId
		);
		const granted =
			consent.kind === 'recorded' ? consent.granted : new Set<never>();
		const event = await outboundEvent(
			body,
			subjectId,
			requestFacts(request),
			granted,
			Date.now()
		);
		const outcomes = await dispatch(destinations, consent, event, {
			context: sendContext(options.env, debug),
			secretKeys: options.secretKeys,
		});
		// One line per event, counts only: no identifier of the visitor.
		console.log(
			JSON.stringify({
				message: 'c15t events: event handled',
				event: body.event,
				eventId: event.eventId,
				...counts(outcomes),
			})
		);
		return { consent, outcomes, eventId: event.eventId };
	};

	return {
		schema(headers) {
			headers.set('Cache-Control', 'public, max-age=3600');
			headers.set('Content-Type', 'application/schema+json');
			return new Response(JSON.stringify(EVENT_SCHEMA), {
				status: 200,
				headers,
			});
		},
		async handle(request, headers, ctx) {
			if (options.c15t === null) {
				return answer(headers, 501, {
					error:
						'server-side events need the worker’s c15t instance (the `c15t` option of createAnalyticsHandler)',
				});
			}
			const url = new URL(request.url);
			const debug = url.searchParams.get('debug');
			if (debug !== null && debug !== '1') {
				return answer(headers, 400, { error: '`debug` must be 1 when given' });
			}
			if (debug === '1') {
				const secret = envString(options.env, DEBUG_SECRET_VAR);
				if (secret === null) {
					return answer(headers, 403, {
						error: `debug mode is off: the worker has no ${DEBUG_SECRET_VAR} secret`,
					});
				}
				const given = /^Bearer (.+)$/.exec(
					request.headers.get('Authorization') ?? ''
				)?.[1];
				if (given === undefined || !sameSecret(given, secret)) {
					headers.set('WWW-Authenticate', 'Bearer realm="c15t events debug"');
					return answer(headers, 401, {
						error: `debug mode needs \`Authorization: Bearer <${DEBUG_SECRET_VAR}>\``,
					});
				}
			}
			const read = await readJson(request);
			if (!read.ok) {
				return answer(headers, read.status, { error: read.message });
			}
			const parsed = parseEventBody(read.json);
			if (!parsed.ok) {
				return answer(headers, 400, {
					error: 'invalid event',
					problems: parsed.problems,
				});
			}
			const body = parsed.value;
			const subjectId =
				body.subjectId ?? subjectFromCookie(request.headers.get('Cookie'));
			if (subjectId === null) {
				return answer(headers, 400, {
					error: 'invalid event',
					problems: [
						'/subjectId: is required: send it, or send the request with c15t’s `c15t` cookie',
					],
				});
			}
			const fixed: EventBody =
				body.eventId === null
					? { ...body, eventId: crypto.randomUUID() }
					: body;
			if (debug === '1') {
				const result = await work(request, fixed, subjectId, true);
				return answer(headers, 200, {
					eventId: result.eventId,
					subject: consentView(result.consent),
					destinations: result.outcomes,
				});
			}
			const pending = work(request, fixed, subjectId, false).catch(
				(error: unknown) => {
					console.error(
						'c15t events: forwarding failed',
						error instanceof Error ? error.message : String(error)
					);
				}
			);
			if (ctx !== undefined) {
				ctx.waitUntil(pending);
			}
			return answer(headers, 202, { accepted: true, eventId: fixed.eventId });
		},
	};
}
