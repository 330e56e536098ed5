/**
 * The destinations' routes, served by the customer's worker next to `@c15t/backend`:
 *
 * - `GET|HEAD {basePath}/scripts[?consent=...]`: the script descriptors of the enabled
 *   destinations (filtered by the visitor's grants when `consent` is given);
 * - `GET|HEAD {basePath}/client.js`: the browser module that turns them into c15t scripts;
 * - `POST {basePath}/events`: a server-side event, forwarded to the destinations with a server
 *   API whose purpose the subject granted in c15t (see `events/route.ts`);
 * - `GET {basePath}/events/schema`: the JSON schema of that event.
 *
 * The scripts and the client depend only on the deployed configuration and the query, so
 * they carry strong ETags and may be cached.
 *
 * @packageDocumentation
 */

import type {
	AnalyticsHandlerOptions,
	Destination,
	ScriptDescriptor,
} from '@c15t/destinations';
import clientModule from 'c15t-destinations:client';
import { KINDS } from './catalogue.ts';
import { checkDestination } from './destination.ts';
import {
	consentKey,
	describeDestination,
	isConsented,
	parseConsent,
} from './descriptors.ts';
import { createEventsRoute, type WaitUntil } from './events/route.ts';
import { originMatcher } from './origin.ts';

const ALLOWED_METHODS = 'GET, HEAD, OPTIONS';
const EVENTS_METHODS = 'POST, OPTIONS';
const SCRIPTS_CACHE_CONTROL = 'public, max-age=60';
const CLIENT_CACHE_CONTROL = 'public, max-age=3600';
const PREFLIGHT_MAX_AGE = '600';
const JSON_TYPE = 'application/json; charset=utf-8';
const JAVASCRIPT_TYPE = 'text/javascript; charset=utf-8';
/** Header names as RFC 9110 tokens, for echoing `Access-Control-Request-Headers`. */
const HEADER_LIST =
	/^[!#$%&'*+.^_`|~0-9A-Za-z-]+(?:\s*,\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+)*$/;

interface Representation {
	readonly body: string;
	readonly etag: string;
}

const encoder = new TextEncoder();

async function representation(body: string): Promise<Representation> {
	const digest = new Uint8Array(
		await crypto.subtle.digest('SHA-256', encoder.encode(body))
	);
	let hex = '';
	for (const byte of digest) {
		hex += byte.toString(16).padStart(2, '0');
	}
	return { body, etag: `"${hex}"` };
}

/** `If-None-Match` (weak comparison, as RFC 9110 requires for it). */
function notModified(request: Request, etag: string): boolean {
	const header = request.headers.get('If-None-Match');
	if (header === null) {
		return false;
	}
	return header
		.split(',')
		.map((tag) => tag.trim())
		.some((tag) => tag === '*' || tag.replace(/^W\//, '') === etag);
}

function normaliseBasePath(basePath: unknown): string {
	if (typeof basePath !== 'string' || !basePath.startsWith('/')) {
		throw new TypeError(
			`@c15t/destinations: \`basePath\` must be a path starting with \`/\`, such as \`/analytics\`, got ${JSON.stringify(basePath)}`
		);
	}
	if (/[?#\s]/.test(basePath)) {
		throw new TypeError(
			`@c15t/destinations: \`basePath\` must be a plain path, got ${JSON.stringify(basePath)}`
		);
	}
	return basePath.replace(/\/+$/, '');
}

function checkTrustedOrigins(trustedOrigins: unknown): readonly string[] {
	if (
		!Array.isArray(trustedOrigins) ||
		!trustedOrigins.every((origin) => typeof origin === 'string')
	) {
		throw new TypeError(
			'@c15t/destinations: `trustedOrigins` must be an array of strings'
		);
	}
	return Object.freeze([...trustedOrigins]);
}

function checkDestinations(destinations: unknown): readonly Destination[] {
	if (!Array.isArray(destinations)) {
		throw new TypeError('@c15t/destinations: `destinations` must be an array');
	}
	const ids = new Set<string>();
	const checked: Destination[] = [];
	for (const value of destinations) {
		const destination = checkDestination(value);
		if (ids.has(destination.id)) {
			throw new TypeError(
				`@c15t/destinations: two destinations have the id \`${destination.id}\`; ids must be unique (they are the c15t script ids)`
			);
		}
		ids.add(destination.id);
		checked.push(destination);
	}
	return Object.freeze(checked);
}

function checkC15t(c15t: unknown): AnalyticsHandlerOptions['c15t'] | null {
	if (c15t === undefined) {
		return null;
	}
	if (
		typeof c15t !== 'object' ||
		c15t === null ||
		typeof (c15t as { handler?: unknown }).handler !== 'function'
	) {
		throw new TypeError(
			'@c15t/destinations: `c15t` must be the c15t instance (an object with a `handler` function)'
		);
	}
	return c15t as AnalyticsHandlerOptions['c15t'];
}

function checkEnv(env: unknown): object | null {
	if (env === undefined) {
		return null;
	}
	if (typeof env !== 'object' || env === null) {
		throw new TypeError(
			"@c15t/destinations: `env` must be the worker's environment object"
		);
	}
	return env;
}

/**
 * Creates the handler of the destinations' routes.
 *
 * @throws {TypeError} when a destination is invalid (unknown type, duplicate id, ...).
 */
export function createAnalyticsHandler(
	options: AnalyticsHandlerOptions
): (request: Request, ctx?: WaitUntil) => Promise<Response> {
	if (typeof options !== 'object' || options === null) {
		throw new TypeError(
			'@c15t/destinations: createAnalyticsHandler takes an options object'
		);
	}
	const basePath = normaliseBasePath(options.basePath ?? '/analytics');
	const isTrusted = originMatcher(
		checkTrustedOrigins(options.trustedOrigins ?? [])
	);
	const destinations = checkDestinations(options.destinations);
	const descriptors: readonly ScriptDescriptor[] = Object.freeze(
		destinations
			.map(describeDestination)
			.filter((d): d is ScriptDescriptor => d !== null)
	);
	const events = createEventsRoute({
		c15t: checkC15t(options.c15t) ?? null,
		destinations,
		env: checkEnv(options.env),
		secretKeys: (slug) => KINDS.get(slug)?.secrets ?? [],
	});
	const scriptsPath = `${basePath}/scripts`;
	const clientPath = `${basePath}/client.js`;
	const eventsPath = `${basePath}/events`;
	const schemaPath = `${basePath}/events/schema`;

	const answers = new Map<string, Promise<Representation>>();
	function scriptsAnswer(
		granted: Parameters<typeof isConsented>[1]
	): Promise<Representation> {
		// At most 2^5 + 1 keys: only the granted categories matter.
		const key = consentKey(granted);
		let answer = answers.get(key);
		if (answer === undefined) {
			const scripts = descriptors.filter((d) => isConsented(d, granted));
			answer = representation(JSON.stringify({ scripts }));
			answers.set(key, answer);
		}
		return answer;
	}
	let clientAnswer: Promise<Representation> | undefined;

	return async (request: Request, ctx?: WaitUntil): Promise<Response> => {
		const url = new URL(request.url);
		const origin = request.headers.get('Origin');
		const isClient = url.pathname === clientPath;
		const isScripts = url.pathname === scriptsPath;
		const isEvents = url.pathname === eventsPath;
		const isSchema = url.pathname === schemaPath;

		const headers = new Headers({
			Vary: 'Origin',
			'X-Content-Type-Options': 'nosniff',
		});
		if (isClient || isSchema) {
			// Public documents: anyone may read them (module scripts are fetched with CORS).
			headers.set('Access-Control-Allow-Origin', '*');
		} else if (origin !== null && isTrusted(origin)) {
			headers.set('Access-Control-Allow-Origin', origin);
		}
		const corsAllowed = headers.has('Access-Control-Allow-Origin');

		const error = (status: number, message: string): Response => {
			headers.set('Content-Type', JSON_TYPE);
			headers.set('Cache-Control', 'no-store');
			return new Response(
				request.method === 'HEAD' ? null : JSON.stringify({ error: message }),
				{ status, headers }
			);
		};

		if (!isClient && !isScripts && !isEvents && !isSchema) {
			return error(404, `Not found: ${url.pathname}`);
		}
		const allowed = isEvents ? EVENTS_METHODS : ALLOWED_METHODS;
		if (request.method === 'OPTIONS') {
			headers.set('Allow', allowed);
			if (corsAllowed) {
				headers.set('Access-Control-Allow-Methods', allowed);
				if (isEvents) {
					// The visitor's c15t cookie identifies the subject.
					headers.set('Access-Control-Allow-Credentials', 'true');
				}
				const requested = request.headers.get('Access-Control-Request-Headers');
				if (requested !== null && HEADER_LIST.test(requested.trim())) {
					headers.set('Access-Control-Allow-Headers', requested.trim());
				}
				headers.set('Access-Control-Max-Age', PREFLIGHT_MAX_AGE);
			}
			return new Response(null, { status: 204, headers });
		}
		if (isEvents) {
			if (request.method !== 'POST') {
				headers.set('Allow', EVENTS_METHODS);
				return error(
					405,
					`Method ${request.method} is not allowed on ${url.pathname}; allowed: ${EVENTS_METHODS}`
				);
			}
			if (corsAllowed) {
				headers.set('Access-Control-Allow-Credentials', 'true');
			}
			return await events.handle(request, headers, ctx);
		}
		if (request.method !== 'GET' && request.method !== 'HEAD') {
			headers.set('Allow', ALLOWED_METHODS);
			return error(
				405,
				`Method ${request.method} is not allowed on ${url.pathname}; allowed: ${ALLOWED_METHODS}`
			);
		}
		if (isSchema) {
			return events.schema(headers);
		}

		let answer: Representation;
		if (isClient) {
			clientAnswer ??= representation(clientModule);
			answer = await clientAnswer;
			headers.set('Content-Type', JAVASCRIPT_TYPE);
			headers.set('Cache-Control', CLIENT_CACHE_CONTROL);
		} else {
			const consent = parseConsent(url.searchParams);
			if (!consent.ok) {
				return error(400, consent.error);
			}
			answer = await scriptsAnswer(consent.granted);
			headers.set('Content-Type', JSON_TYPE);
			headers.set('Cache-Control', SCRIPTS_CACHE_CONTROL);
		}
		headers.set('ETag', answer.etag);
		if (notModified(request, answer.etag)) {
			headers.delete('Content-Type');
			return new Response(null, { status: 304, headers });
		}
		return new Response(request.method === 'HEAD' ? null : answer.body, {
			status: 200,
			headers,
		});
	};
}
