/**
 * Google Analytics 4's Measurement Protocol:
 * https://developers.google.com/analytics/devguides/collection/protocol/ga4
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
} from './types.ts';

const GA4_EVENTS: Readonly<Record<StandardEvent, string>> = {
	PageView: 'page_view',
	ViewContent: 'view_item',
	AddToCart: 'add_to_cart',
	Purchase: 'purchase',
	Lead: 'generate_lead',
	SignUp: 'sign_up',
};

/**
 * The GA client id: from the `_ga` cookie (`GA1.1.<random>.<time>`) when the site has one,
 * so server events join the browser's sessions; otherwise the c15t subject id.
 */
export function ga4ClientId(event: OutboundEvent): string {
	const cookie = event.cookies.get('_ga');
	const match =
		cookie === undefined ? null : /^GA\d\.\d+\.(\d+\.\d+)$/.exec(cookie);
	return match?.[1] ?? event.subjectId;
}

export const ga4MeasurementProtocol: EventSender = {
	api: 'GA4 Measurement Protocol',
	endpoint: 'GA4',
	missing: (settings) =>
		setting(settings, 'apiSecret') === undefined
			? 'no Measurement Protocol API secret (`apiSecret`) is set'
			: null,
	request(settings, event, context) {
		const measurementId = setting(settings, 'measurementId');
		const apiSecret = setting(settings, 'apiSecret');
		if (measurementId === undefined || apiSecret === undefined) {
			return null;
		}
		const path = context.debug ? 'debug/mp/collect' : 'mp/collect';
		const url = new URL(
			join(context.base('GA4', 'https://www.google-analytics.com'), path)
		);
		url.searchParams.set('measurement_id', measurementId);
		url.searchParams.set('api_secret', apiSecret);
		// Google's consent signals for ads follow the marketing purpose; user-provided data
		// is only sent when the subject granted it.
		const marketing = event.granted.has('marketing');
		const signal = marketing ? 'GRANTED' : 'DENIED';
		const contentIds = listOf(event, 'contentIds');
		const userData =
			marketing &&
			(event.hashed.email !== null || event.hashed.phoneE164 !== null)
				? compact({
						sha256_email_address:
							event.hashed.email === null ? undefined : [event.hashed.email],
						sha256_phone_number:
							event.hashed.phoneE164 === null
								? undefined
								: [event.hashed.phoneE164],
					})
				: undefined;
		return {
			url: url.href,
			headers: JSON_HEADERS,
			body: JSON.stringify(
				compact({
					client_id: ga4ClientId(event),
					user_id: event.externalId,
					timestamp_micros: event.time * 1000,
					ip_override: event.ip,
					consent: { ad_user_data: signal, ad_personalization: signal },
					user_data: userData,
					events: [
						{
							name:
								event.standard === null
									? event.name
									: GA4_EVENTS[event.standard],
							params: compact({
								...customProperties(event),
								page_location: event.url,
								page_referrer: event.referrer,
								engagement_time_msec: 1,
								value: numberOf(event, 'value'),
								currency: stringOf(event, 'currency'),
								transaction_id: stringOf(event, 'orderId'),
								items: contentIds?.map((id) => ({ item_id: id })),
							}),
						},
					],
				})
			),
		};
	},
	/** The validation server answers `{validationMessages: [...]}`; collection answers 2xx. */
	verdict(status, body) {
		const json = jsonOf(body);
		if (
			status >= 200 &&
			status < 300 &&
			isRecord(json) &&
			Array.isArray(json['validationMessages'])
		) {
			const messages = json['validationMessages'].filter(isRecord);
			if (messages.length > 0) {
				return {
					ok: false,
					retry: false,
					message: messages
						.map(
							(m) =>
								`${String(m['description'] ?? m['validationCode'] ?? 'invalid')}${m['fieldPath'] === undefined ? '' : ` (${String(m['fieldPath'])})`}`
						)
						.join('; '),
				};
			}
			return { ok: true, message: 'valid (validation server)' };
		}
		return httpVerdict(status, body);
	},
};
