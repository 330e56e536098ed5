/**
 * Web analytics: Plausible, Umami and Matomo. They count visits from the visitor's IP and
 * user agent, which the worker passes on as their APIs document.
 *
 * @packageDocumentation
 */

import { compact, type OutboundEvent } from '../event.ts';
import { type EventSender, JSON_HEADERS, join, setting } from './types.ts';

/** Flat props of scalar values, as Plausible and Matomo take them. */
function scalarProps(
	event: OutboundEvent
): Record<string, string | number | boolean> {
	const props: Record<string, string | number | boolean> = {};
	for (const [key, value] of Object.entries(event.properties)) {
		if (
			typeof value === 'string' ||
			typeof value === 'number' ||
			typeof value === 'boolean'
		) {
			props[key] = value;
		} else if (Array.isArray(value)) {
			props[key] = value.join(',');
		}
	}
	return props;
}

function visitorHeaders(event: OutboundEvent): Record<string, string> {
	return compact({
		'User-Agent': event.userAgent ?? undefined,
		'X-Forwarded-For': event.ip ?? undefined,
	}) as Record<string, string>;
}

/** Plausible Events API: https://plausible.io/docs/events-api */
export const plausibleEvents: EventSender = {
	api: 'Plausible Events API',
	endpoint: 'PLAUSIBLE',
	missing: () => null,
	request(settings, event, context) {
		const domain = setting(settings, 'domain');
		if (domain === undefined) {
			return null;
		}
		if (event.url === null) {
			return { skip: 'Plausible needs the page: send `url` with the event' };
		}
		if (event.userAgent === null) {
			return { skip: 'Plausible needs the visitor’s User-Agent header' };
		}
		const value = event.properties['value'];
		const currency = event.properties['currency'];
		const host = setting(settings, 'apiHost') ?? 'https://plausible.io';
		return {
			url: join(context.base('PLAUSIBLE', host), 'api/event'),
			headers: { ...JSON_HEADERS, ...visitorHeaders(event) },
			body: JSON.stringify(
				compact({
					domain,
					name: event.standard === 'PageView' ? 'pageview' : event.name,
					url: event.url,
					referrer: event.referrer,
					props: scalarProps(event),
					revenue:
						event.standard === 'Purchase' &&
						typeof value === 'number' &&
						typeof currency === 'string'
							? { currency, amount: value }
							: undefined,
				})
			),
		};
	},
};

/** Umami's send endpoint: https://umami.is/docs/api/sending-stats */
export const umamiSend: EventSender = {
	api: 'Umami send API',
	endpoint: 'UMAMI',
	missing: () => null,
	request(settings, event, context) {
		const website = setting(settings, 'websiteId');
		if (website === undefined) {
			return null;
		}
		if (event.url === null) {
			return { skip: 'Umami needs the page: send `url` with the event' };
		}
		if (event.userAgent === null) {
			return { skip: 'Umami needs the visitor’s User-Agent header' };
		}
		const url = new URL(event.url);
		const host = setting(settings, 'hostUrl') ?? 'https://cloud.umami.is';
		return {
			url: join(context.base('UMAMI', host), 'api/send'),
			headers: { ...JSON_HEADERS, ...visitorHeaders(event) },
			body: JSON.stringify({
				type: 'event',
				payload: compact({
					website,
					hostname: url.hostname,
					url: `${url.pathname}${url.search}`,
					referrer: event.referrer ?? undefined,
					name: event.standard === 'PageView' ? undefined : event.name,
					data:
						Object.keys(event.properties).length === 0
							? undefined
							: event.properties,
					id: event.externalId ?? undefined,
				}),
			}),
		};
	},
};

/** Matomo's HTTP Tracking API: https://developer.matomo.org/api-reference/tracking-api */
export const matomoTracking: EventSender = {
	api: 'Matomo Tracking API',
	endpoint: 'MATOMO',
	missing: () => null,
	request(settings, event, context) {
		const matomoUrl = setting(settings, 'matomoUrl');
		const siteId = setting(settings, 'siteId');
		if (matomoUrl === undefined || siteId === undefined) {
			return null;
		}
		const form = new URLSearchParams();
		form.set('idsite', siteId);
		form.set('rec', '1');
		form.set('apiv', '1');
		form.set('send_image', '0');
		form.set('_id', event.visitorId);
		form.set('cdt', String(Math.floor(event.time / 1000)));
		if (event.url !== null) {
			form.set('url', event.url);
		}
		if (event.referrer !== null) {
			form.set('urlref', event.referrer);
		}
		if (event.externalId !== null) {
			form.set('uid', event.externalId);
		}
		if (event.userAgent !== null) {
			form.set('ua', event.userAgent);
		}
		const value = event.properties['value'];
		if (event.standard === 'PageView') {
			form.set(
				'action_name',
				event.url === null ? 'Page view' : new URL(event.url).pathname
			);
		} else if (event.standard === 'Purchase' && typeof value === 'number') {
			form.set('idgoal', '0');
			form.set('revenue', String(value));
			const orderId = event.properties['orderId'];
			form.set('ec_id', typeof orderId === 'string' ? orderId : event.eventId);
		} else {
			form.set('e_c', 'c15t');
			form.set('e_a', event.name);
			if (typeof value === 'number') {
				form.set('e_v', String(value));
			}
		}
		// The visitor's IP may be set only by an authenticated request (and a time older
		// than four hours too); without the token Matomo uses the worker's address.
		const token = setting(settings, 'tokenAuth');
		if (token !== undefined) {
			form.set('token_auth', token);
			if (event.ip !== null) {
				form.set('cip', event.ip);
			}
		} else {
			form.delete('cdt');
		}
		return {
			url: join(context.base('MATOMO', matomoUrl), 'matomo.php'),
			headers: {
				'Content-Type': 'application/x-www-form-urlencoded',
				...(event.userAgent === null ? {} : { 'User-Agent': event.userAgent }),
			},
			body: form.toString(),
		};
	},
};
