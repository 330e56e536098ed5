/**
 * Advertising platforms' conversion APIs: Meta, TikTok, Reddit and Snapchat. They match
 * people by hashed identifiers, so they get the SHA-256 of email and phone, never the text.
 *
 * @packageDocumentation
 */

import type { StandardEvent } from '../body.ts';
import {
	compact,
	customProperties,
	listOf,
	numberOf,
	type OutboundEvent,
	stringOf,
} from '../event.ts';
import {
	type EventSender,
	httpVerdict,
	isRecord,
	JSON_HEADERS,
	join,
	jsonOf,
	setting,
	type Verdict,
} from './types.ts';

/** The Graph API version the control plane's connection tests use too. */
export const META_GRAPH_VERSION = 'v21.0';

const META_EVENTS: Readonly<Record<StandardEvent, string>> = {
	PageView: 'PageView',
	ViewContent: 'ViewContent',
	AddToCart: 'AddToCart',
	Purchase: 'Purchase',
	Lead: 'Lead',
	SignUp: 'CompleteRegistration',
};

const seconds = (event: OutboundEvent): number => Math.floor(event.time / 1000);

function needs(
	settings: Parameters<EventSender['missing']>[0],
	key: string,
	what: string
): string | null {
	return setting(settings, key) === undefined
		? `no ${what} (\`${key}\`) is set`
		: null;
}

/** Graph API errors: `{"error": {"message", "code", "error_subcode"}}`. */
function graphVerdict(status: number, body: string): Verdict {
	const json = jsonOf(body);
	if (status >= 200 && status < 300) {
		return { ok: true };
	}
	const error =
		isRecord(json) && isRecord(json['error']) ? json['error'] : null;
	if (error !== null && typeof error['message'] === 'string') {
		const code = error['code'];
		return {
			ok: false,
			// Meta's transient errors: 1, 2 (service), 4, 17, 32, 613 (rate limits).
			retry:
				status >= 500 ||
				status === 429 ||
				[1, 2, 4, 17, 32, 613].includes(code as number),
			message: `${error['message']}${code === undefined ? '' : ` (code ${code})`}`,
		};
	}
	return httpVerdict(status, body);
}

/** Meta Conversions API: https://developers.facebook.com/docs/marketing-api/conversions-api */
export const metaConversions: EventSender = {
	api: 'Meta Conversions API',
	endpoint: 'META',
	missing: (settings) =>
		needs(settings, 'accessToken', 'Conversions API access token'),
	request(settings, event, context) {
		const pixelId = setting(settings, 'pixelId');
		const token = setting(settings, 'accessToken');
		if (pixelId === undefined || token === undefined) {
			return null;
		}
		const contentIds = listOf(event, 'contentIds');
		const data = compact({
			event_name:
				event.standard === null ? event.name : META_EVENTS[event.standard],
			event_time: seconds(event),
			event_id: event.eventId,
			action_source: 'website',
			event_source_url: event.url,
			user_data: compact({
				em: event.hashed.email === null ? undefined : [event.hashed.email],
				ph:
					event.hashed.phoneDigits === null
						? undefined
						: [event.hashed.phoneDigits],
				external_id:
					event.hashed.externalId === null
						? undefined
						: [event.hashed.externalId],
				client_ip_address: event.ip,
				client_user_agent: event.userAgent,
				fbp: event.cookies.get('_fbp'),
				fbc: event.cookies.get('_fbc'),
			}),
			custom_data: compact({
				...customProperties(event),
				value: numberOf(event, 'value'),
				currency: stringOf(event, 'currency'),
				content_ids: contentIds,
				content_type:
					stringOf(event, 'contentType') ??
					(contentIds === undefined ? undefined : 'product'),
				content_name: stringOf(event, 'contentName'),
				order_id: stringOf(event, 'orderId'),
				num_items: numberOf(event, 'numItems'),
			}),
			// Limited Data Use: Meta geolocates the visitor (country and state 0).
			...(settings['limitedDataUse'] === true
				? {
						data_processing_options: ['LDU'],
						data_processing_options_country: 0,
						data_processing_options_state: 0,
					}
				: {}),
		});
		const testEventCode = setting(settings, 'testEventCode');
		return {
			url: join(
				context.base('META', 'https://graph.facebook.com'),
				`${META_GRAPH_VERSION}/${encodeURIComponent(pixelId)}/events`
			),
			headers: JSON_HEADERS,
			body: JSON.stringify(
				compact({
					data: [data],
					test_event_code: testEventCode,
					access_token: token,
				})
			),
		};
	},
	verdict: graphVerdict,
};

const TIKTOK_EVENTS: Readonly<Record<StandardEvent, string>> = {
	PageView: 'Pageview',
	ViewContent: 'ViewContent',
	AddToCart: 'AddToCart',
	Purchase: 'CompletePayment',
	Lead: 'SubmitForm',
	SignUp: 'CompleteRegistration',
};

/** TikTok Events API 2.0: https://business-api.tiktok.com/portal/docs?id=1771101303285761 */
export const tiktokEvents: EventSender = {
	api: 'TikTok Events API',
	endpoint: 'TIKTOK',
	missing: (settings) =>
		needs(settings, 'accessToken', 'Events API access token'),
	request(settings, event, context) {
		const pixelId = setting(settings, 'pixelId');
		const token = setting(settings, 'accessToken');
		if (pixelId === undefined || token === undefined) {
			return null;
		}
		const contentIds = listOf(event, 'contentIds');
		return {
			url: join(
				context.base('TIKTOK', 'https://business-api.tiktok.com'),
				'open_api/v1.3/event/track/'
			),
			headers: { ...JSON_HEADERS, 'Access-Token': token },
			body: JSON.stringify(
				compact({
					event_source: 'web',
					event_source_id: pixelId,
					test_event_code: setting(settings, 'testEventCode'),
					data: [
						compact({
							event:
								event.standard === null
									? event.name
									: TIKTOK_EVENTS[event.standard],
							event_time: seconds(event),
							event_id: event.eventId,
							user: compact({
								email: event.hashed.email,
								phone: event.hashed.phoneE164,
								external_id: event.hashed.externalId,
								ip: event.ip,
								user_agent: event.userAgent,
								ttclid: event.cookies.get('ttclid'),
								ttp: event.cookies.get('_ttp'),
							}),
							page: compact({ url: event.url, referrer: event.referrer }),
							properties: compact({
								...customProperties(event),
								value: numberOf(event, 'value'),
								currency: stringOf(event, 'currency'),
								contents: contentIds?.map((id) => ({ content_id: id })),
								content_type:
									stringOf(event, 'contentType') ??
									(contentIds === undefined ? undefined : 'product'),
								content_name: stringOf(event, 'contentName'),
								order_id: stringOf(event, 'orderId'),
							}),
						}),
					],
				})
			),
		};
	},
	/** TikTok answers 200 with `{code, message}`; 0 is success, 40100 a rate limit, 5xxxx its own faults. */
	verdict(status, body) {
		const json = jsonOf(body);
		if (isRecord(json) && typeof json['code'] === 'number') {
			const code = json['code'];
			if (code === 0 && status >= 200 && status < 300) {
				return { ok: true };
			}
			return {
				ok: false,
				retry:
					code === 40100 || code >= 50000 || status >= 500 || status === 429,
				message: `${typeof json['message'] === 'string' ? json['message'] : 'refused'} (code ${code})`,
			};
		}
		return httpVerdict(status, body);
	},
};

const REDDIT_EVENTS: Readonly<Record<StandardEvent, string>> = {
	PageView: 'PAGE_VISIT',
	ViewContent: 'VIEW_CONTENT',
	AddToCart: 'ADD_TO_CART',
	Purchase: 'PURCHASE',
	Lead: 'LEAD',
	SignUp: 'SIGN_UP',
};

/** Reddit Conversions API v3: https://ads-api.reddit.com/docs/v3/operations/Post%20Conversion%20Events */
export const redditConversions: EventSender = {
	api: 'Reddit Conversions API',
	endpoint: 'REDDIT',
	missing: (settings) =>
		needs(settings, 'accessToken', 'conversion access token'),
	request(settings, event, context) {
		const pixelId = setting(settings, 'pixelId');
		const token = setting(settings, 'accessToken');
		if (pixelId === undefined || token === undefined) {
			return null;
		}
		const contentIds = listOf(event, 'contentIds');
		return {
			url: join(
				context.base('REDDIT', 'https://ads-api.reddit.com'),
				`api/v3/pixels/${encodeURIComponent(pixelId)}/conversion_events`
			),
			headers: { ...JSON_HEADERS, Authorization: `Bearer ${token}` },
			body: JSON.stringify({
				data: {
					// Debug mode: Reddit checks the events the same way and records none.
					...(context.debug ? { test_mode: true } : {}),
					events: [
						compact({
							event_at: event.time,
							action_source: 'WEBSITE',
							type:
								event.standard === null
									? { tracking_type: 'CUSTOM', custom_event_name: event.name }
									: { tracking_type: REDDIT_EVENTS[event.standard] },
							click_id: event.cookies.get('_rdt_cid'),
							user: compact({
								email: event.hashed.email,
								phone_number: event.hashed.phoneDigits,
								external_id: event.hashed.externalId,
								ip_address: event.ip,
								user_agent: event.userAgent,
								uuid: event.cookies.get('_rdt_uuid'),
							}),
							metadata: compact({
								conversion_id: event.eventId,
								currency: stringOf(event, 'currency'),
								value: numberOf(event, 'value'),
								item_count: numberOf(event, 'numItems'),
								products: contentIds?.map((id) => ({ id })),
							}),
						}),
					],
				},
			}),
		};
	},
};

const SNAPCHAT_EVENTS: Readonly<Record<StandardEvent, string>> = {
	PageView: 'PAGE_VIEW',
	ViewContent: 'VIEW_CONTENT',
	AddToCart: 'ADD_CART',
	Purchase: 'PURCHASE',
	Lead: 'SIGN_UP',
	SignUp: 'SIGN_UP',
};

/** Snapchat Conversions API v3: https://developers.snap.com/api/marketing-api/Conversions-API */
export const snapchatConversions: EventSender = {
	api: 'Snapchat Conversions API',
	endpoint: 'SNAPCHAT',
	missing: (settings) =>
		needs(settings, 'accessToken', 'Conversions API token'),
	request(settings, event, context) {
		const pixelId = setting(settings, 'pixelId');
		const token = setting(settings, 'accessToken');
		if (pixelId === undefined || token === undefined) {
			return null;
		}
		const path = `v3/${encodeURIComponent(pixelId)}/events${context.debug ? '/validate' : ''}`;
		const url = new URL(
			join(context.base('SNAPCHAT', 'https://tr.snapchat.com'), path)
		);
		url.searchParams.set('access_token', token);
		const contentIds = listOf(event, 'contentIds');
		return {
			url: url.href,
			headers: JSON_HEADERS,
			body: JSON.stringify({
				data: [
					compact({
						event_name:
							event.standard === null
								? 'CUSTOM_EVENT_1'
								: SNAPCHAT_EVENTS[event.standard],
						event_time: seconds(event),
						event_id: event.eventId,
						action_source: 'WEB',
						event_source_url: event.url,
						user_data: compact({
							em:
								event.hashed.email === null ? undefined : [event.hashed.email],
							ph:
								event.hashed.phoneDigits === null
									? undefined
									: [event.hashed.phoneDigits],
							external_id:
								event.hashed.externalId === null
									? undefined
									: [event.hashed.externalId],
							client_ip_address: event.ip,
							client_user_agent: event.userAgent,
							sc_click_id: event.cookies.get('ScCid'),
							sc_cookie1: event.cookies.get('_scid'),
						}),
						custom_data: compact({
							...(event.standard === null ? { event_name: event.name } : {}),
							value: numberOf(event, 'value'),
							currency: stringOf(event, 'currency'),
							content_ids: contentIds,
							content_category: stringOf(event, 'contentType'),
							order_id: stringOf(event, 'orderId'),
							num_items: numberOf(event, 'numItems'),
						}),
					}),
				],
			}),
		};
	},
};

/** The `LinkedIn-Version` (YYYYMM) the requests are written for. */
export const LINKEDIN_VERSION = '202510';

/**
 * LinkedIn Conversions API: https://learn.microsoft.com/en-us/linkedin/marketing/integrations/ads-reporting/conversions-api
 * One conversion rule per destination: only the event named by `conversionEvent` (default
 * `Purchase`) counts as it.
 */
export const linkedinConversions: EventSender = {
	api: 'LinkedIn Conversions API',
	endpoint: 'LINKEDIN',
	missing(settings) {
		return (
			needs(settings, 'accessToken', 'Conversions API access token') ??
			needs(settings, 'conversionRuleId', 'conversion rule id')
		);
	},
	request(settings, event, context) {
		const token = setting(settings, 'accessToken');
		const rule = setting(settings, 'conversionRuleId');
		if (token === undefined || rule === undefined) {
			return null;
		}
		const wanted = setting(settings, 'conversionEvent') ?? 'Purchase';
		if (event.name !== wanted) {
			return {
				skip: `the destination's conversion counts \`${wanted}\` events only`,
			};
		}
		const userIds = [
			...(event.hashed.email === null
				? []
				: [{ idType: 'SHA256_EMAIL', idValue: event.hashed.email }]),
			...(event.cookies.get('li_fat_id') === undefined
				? []
				: [
						{
							idType: 'LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID',
							idValue: event.cookies.get('li_fat_id'),
						},
					]),
		];
		if (userIds.length === 0) {
			return {
				skip: 'LinkedIn matches by email or its li_fat_id cookie: the event has neither',
			};
		}
		const value = numberOf(event, 'value');
		const currency = stringOf(event, 'currency');
		return {
			url: join(
				context.base('LINKEDIN', 'https://api.linkedin.com'),
				'rest/conversionEvents'
			),
			headers: {
				...JSON_HEADERS,
				Authorization: `Bearer ${token}`,
				'LinkedIn-Version': LINKEDIN_VERSION,
				'X-Restli-Protocol-Version': '2.0.0',
			},
			body: JSON.stringify(
				compact({
					conversion: `urn:lla:llaPartnerConversion:${rule}`,
					conversionHappenedAt: event.time,
					conversionValue:
						value !== undefined && currency !== undefined
							? { currencyCode: currency, amount: String(value) }
							: undefined,
					eventId: event.eventId,
					user: { userIds },
				})
			),
		};
	},
	/** LinkedIn's errors: `{"status", "code", "message"}`. */
	verdict(status, body) {
		if (status >= 200 && status < 300) {
			return { ok: true };
		}
		const json = jsonOf(body);
		if (isRecord(json) && typeof json['message'] === 'string') {
			return {
				ok: false,
				retry: status === 429 || status >= 500,
				message: `${json['message']}${typeof json['code'] === 'string' ? ` (${json['code']})` : ''}`,
			};
		}
		return httpVerdict(status, body);
	},
};
