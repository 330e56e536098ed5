/**
 * Product analytics: PostHog, Mixpanel, Amplitude and Segment. They identify people by an id
 * (the caller's `externalId`, else the c15t subject id) and never get email or phone.
 *
 * @packageDocumentation
 */

import type { StandardEvent } from '../body.ts';
import { compact, type OutboundEvent } from '../event.ts';
import {
	type EventSender,
	httpVerdict,
	isRecord,
	JSON_HEADERS,
	join,
	jsonOf,
	setting,
} from './types.ts';

/** The person an analytics event is about. */
const distinctId = (event: OutboundEvent): string =>
	event.externalId ?? event.subjectId;

/** Properties with the page added. */
function withPage(
	event: OutboundEvent,
	urlKey: string
): Record<string, unknown> {
	return compact({ ...event.properties, [urlKey]: event.url ?? undefined });
}

/** PostHog capture: https://posthog.com/docs/api/capture */
export const posthogCapture: EventSender = {
	api: 'PostHog capture API',
	endpoint: 'POSTHOG',
	missing: () => null,
	request(settings, event, context) {
		const apiKey = setting(settings, 'apiKey');
		if (apiKey === undefined) {
			return null;
		}
		const host = setting(settings, 'host') ?? 'https://us.i.posthog.com';
		return {
			url: join(context.base('POSTHOG', host), 'i/v0/e/'),
			headers: JSON_HEADERS,
			body: JSON.stringify({
				api_key: apiKey,
				event: event.standard === 'PageView' ? '$pageview' : event.name,
				distinct_id: distinctId(event),
				timestamp: new Date(event.time).toISOString(),
				uuid: isUuid(event.eventId) ? event.eventId : undefined,
				properties: compact({
					...withPage(event, '$current_url'),
					$ip: event.ip,
					$raw_user_agent: event.userAgent,
					$referrer: event.referrer,
					$insert_id: event.eventId,
					$process_person_profile: event.externalId !== null,
				}),
			}),
		};
	},
};

function isUuid(text: string): boolean {
	return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(
		text
	);
}

const MIXPANEL_EVENTS: Partial<Record<StandardEvent, string>> = {
	PageView: '$mp_web_page_view',
};

/**
 * Mixpanel: `/import?strict=1` with the project's API secret when it is set (validated,
 * any age), else `/track` with the project token. https://developer.mixpanel.com/reference/import-events
 */
export const mixpanelIngestion: EventSender = {
	api: 'Mixpanel ingestion API',
	endpoint: 'MIXPANEL',
	missing: () => null,
	request(settings, event, context) {
		const token = setting(settings, 'token');
		if (token === undefined) {
			return null;
		}
		const secret = setting(settings, 'apiSecret');
		const host = setting(settings, 'apiHost') ?? 'https://api.mixpanel.com';
		const base = context.base('MIXPANEL', host);
		const url = new URL(join(base, secret === undefined ? 'track' : 'import'));
		const headers: Record<string, string> = { ...JSON_HEADERS };
		if (secret === undefined) {
			url.searchParams.set('verbose', '1');
		} else {
			url.searchParams.set('strict', '1');
			headers['Authorization'] = `Basic ${btoa(`${secret}:`)}`;
		}
		const name =
			event.standard === null
				? event.name
				: (MIXPANEL_EVENTS[event.standard] ?? event.name);
		return {
			url: url.href,
			headers,
			body: JSON.stringify([
				{
					event: name,
					properties: compact({
						...withPage(event, '$current_url'),
						token,
						time: event.time,
						distinct_id: distinctId(event),
						$insert_id:
							event.eventId.replace(/[^A-Za-z0-9-]/g, '').slice(0, 36) ||
							undefined,
						ip: event.ip,
						$referrer: event.referrer,
					}),
				},
			]),
		};
	},
	/** `/track?verbose=1` and `/import?strict=1` say `{status: 1}` / `{code: 200}` on success. */
	verdict(status, body) {
		const json = jsonOf(body);
		if (status >= 200 && status < 300) {
			if (isRecord(json) && json['status'] === 0) {
				return {
					ok: false,
					retry: false,
					message: String(json['error'] ?? 'refused'),
				};
			}
			return { ok: true };
		}
		if (isRecord(json) && typeof json['error'] === 'string') {
			return {
				ok: false,
				retry: status === 429 || status >= 500,
				message: `${json['error']} (HTTP ${status})`,
			};
		}
		return httpVerdict(status, body);
	},
};

const AMPLITUDE_EVENTS: Partial<Record<StandardEvent, string>> = {
	PageView: '[Amplitude] Page Viewed',
};

/** Amplitude HTTP V2 API: https://amplitude.com/docs/apis/analytics/http-v2 */
export const amplitudeHttp: EventSender = {
	api: 'Amplitude HTTP V2 API',
	endpoint: 'AMPLITUDE',
	missing: () => null,
	request(settings, event, context) {
		const apiKey = setting(settings, 'apiKey');
		if (apiKey === undefined) {
			return null;
		}
		const host =
			setting(settings, 'serverZone') === 'EU'
				? 'https://api.eu.amplitude.com'
				: 'https://api2.amplitude.com';
		// Amplitude needs ids of at least 5 characters; subject ids always are.
		const userId =
			event.externalId !== null && event.externalId.length >= 5
				? event.externalId
				: undefined;
		return {
			url: join(context.base('AMPLITUDE', host), '2/httpapi'),
			headers: JSON_HEADERS,
			body: JSON.stringify({
				api_key: apiKey,
				events: [
					compact({
						event_type:
							event.standard === null
								? event.name
								: (AMPLITUDE_EVENTS[event.standard] ?? event.name),
						user_id: userId,
						device_id: event.subjectId,
						time: event.time,
						insert_id: event.eventId,
						ip: event.ip,
						event_properties: withPage(event, '[Amplitude] Page URL'),
						price:
							typeof event.properties['value'] === 'number'
								? event.properties['value']
								: undefined,
						currency:
							typeof event.properties['currency'] === 'string'
								? event.properties['currency']
								: undefined,
					}),
				],
			}),
		};
	},
	verdict(status, body) {
		const json = jsonOf(body);
		if (status >= 200 && status < 300) {
			return { ok: true };
		}
		if (isRecord(json) && typeof json['error'] === 'string') {
			return {
				ok: false,
				retry: status === 429 || status >= 500,
				message: `${json['error']} (HTTP ${status})`,
			};
		}
		return httpVerdict(status, body);
	},
};

const SEGMENT_EVENTS: Readonly<Record<StandardEvent, string>> = {
	PageView: 'Page Viewed',
	ViewContent: 'Product Viewed',
	AddToCart: 'Product Added',
	Purchase: 'Order Completed',
	Lead: 'Lead Generated',
	SignUp: 'Signed Up',
};

interface SegmentLike {
	readonly api: string;
	readonly endpoint: string;
	/** The API's base for a destination's settings, or undefined when they lack it. */
	readonly base: (
		settings: Parameters<EventSender['missing']>[0]
	) => string | undefined;
}

/** A host setting written without scheme (`api.segment.io/v1`), as a base URL. */
function hostBase(host: string): string {
	return `https://${host
		.replace(/^https?:\/\//, '')
		.replace(/\/v1\/?$/, '')
		.replace(/\/+$/, '')}`;
}

/**
 * Segment's tracking API and the ones built on its spec (RudderStack, Hightouch): `POST
 * /v1/track` (`/v1/page` for page views) with the write key as the Basic auth user.
 */
function segmentLike(spec: SegmentLike): EventSender {
	return {
		api: spec.api,
		endpoint: spec.endpoint,
		missing: () => null,
		request(settings, event, context) {
			const writeKey = setting(settings, 'writeKey');
			const own = spec.base(settings);
			if (writeKey === undefined || own === undefined) {
				return null;
			}
			const page = event.standard === 'PageView';
			return {
				url: join(
					context.base(spec.endpoint, own),
					page ? 'v1/page' : 'v1/track'
				),
				headers: {
					...JSON_HEADERS,
					Authorization: `Basic ${btoa(`${writeKey}:`)}`,
				},
				body: JSON.stringify(
					compact({
						userId: event.externalId,
						anonymousId: event.subjectId,
						event: page
							? undefined
							: event.standard === null
								? event.name
								: SEGMENT_EVENTS[event.standard],
						properties: withPage(event, 'url'),
						messageId: event.eventId,
						timestamp: new Date(event.time).toISOString(),
						context: compact({
							ip: event.ip,
							userAgent: event.userAgent,
							page: compact({ url: event.url, referrer: event.referrer }),
						}),
					})
				),
			};
		},
	};
}

/** Segment HTTP tracking API: https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/ */
export const segmentTracking: EventSender = segmentLike({
	api: 'Segment HTTP tracking API',
	endpoint: 'SEGMENT',
	base: (settings) => {
		const host = setting(settings, 'apiHost');
		return host === undefined ? 'https://api.segment.io' : hostBase(host);
	},
});

/** RudderStack HTTP API: https://www.rudderstack.com/docs/api/http-api/ */
export const rudderstackHttp: EventSender = segmentLike({
	api: 'RudderStack HTTP API',
	endpoint: 'RUDDERSTACK',
	base: (settings) => setting(settings, 'dataPlaneUrl'),
});

/** Hightouch Events HTTP API: https://hightouch.com/docs/events/sdks/http */
export const hightouchHttp: EventSender = segmentLike({
	api: 'Hightouch Events HTTP API',
	endpoint: 'HIGHTOUCH',
	base: (settings) =>
		hostBase(setting(settings, 'apiHost') ?? 'us-east-1.hightouch-events.com'),
});
