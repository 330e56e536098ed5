// POST {basePath}/events: validation, consent read from c15t (a stand-in of its
// GET /subjects/:id answer here; the workerd tests use the real c15t backend), the vendor
// requests, hashing, retries, isolation of failing vendors and debug mode.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { after, before, beforeEach, describe, it } from 'node:test';
import { catalogue, server } from './helpers.mjs';

const {
	createAnalyticsHandler,
	metaPixel,
	googleAnalytics,
	posthog,
	tiktokPixel,
	mixpanel,
	amplitude,
	segment,
	linkedinInsight,
	rudderstack,
	hightouch,
	plausible,
	umami,
	matomo,
	redditPixel,
	snapchatPixel,
} = server;

const SUBJECT = 'sub_2jv6z8n4q9';
const OTHER = 'sub_9xYz';
const EMAIL = 'Canary.Person@Example.com';
const PHONE = '+44 20 7946 0958';
const META_TOKEN = 'EAAmetacanarytoken0123';
const TIKTOK_TOKEN = 'tiktokcanarytoken0123';
const DEBUG_SECRET = 'debug-secret-0123456789';
const sha = (text) => createHash('sha256').update(text).digest('hex');

/** A recorder standing in for every vendor (paths as the vendors use them). */
let vendor;
let requests = [];
let answer = () => ({ status: 200, body: '{}' });

before(async () => {
	vendor = createServer((req, res) => {
		let body = '';
		req.on('data', (chunk) => {
			body += chunk;
		});
		req.on('end', () => {
			const record = {
				method: req.method,
				url: req.url,
				headers: req.headers,
				body,
			};
			requests.push(record);
			const { status, body: out, headers = {} } = answer(record);
			res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
			res.end(out);
		});
	});
	await new Promise((resolve) => vendor.listen(0, '127.0.0.1', resolve));
});
after(() => vendor.close());
beforeEach(() => {
	requests = [];
	answer = (r) =>
		r.url.startsWith('/open_api/')
			? { status: 200, body: '{"code":0,"message":"OK"}' }
			: { status: 200, body: '{}' };
});

const base = () => `http://127.0.0.1:${vendor.address().port}`;

function env(extra = {}) {
	const vars = {};
	for (const name of [
		'META',
		'GA4',
		'TIKTOK',
		'POSTHOG',
		'MIXPANEL',
		'AMPLITUDE',
		'SEGMENT',
		'PLAUSIBLE',
		'UMAMI',
		'MATOMO',
		'REDDIT',
		'LINKEDIN',
		'RUDDERSTACK',
		'HIGHTOUCH',
		'SNAPCHAT',
	]) {
		vars[`C15T_ENDPOINT_${name}`] = base();
	}
	return { ...vars, ...extra };
}

/** c15t's GET /subjects/:id answer for a subject with banner records. */
function c15tWith(records) {
	const calls = [];
	return {
		calls,
		handler: async (request) => {
			const url = new URL(request.url);
			calls.push(url.pathname + url.search);
			const id = decodeURIComponent(url.pathname.split('/')[2] ?? '');
			const consents = records[id];
			if (consents === undefined) {
				return Response.json({ message: 'Subject not found' }, { status: 404 });
			}
			return Response.json({
				subject: { id, createdAt: '2026-12-01T00:00:00.000Z' },
				consents: consents.map((preferences, i) => ({
					id: `cns_${i}`,
					type: 'cookie_banner',
					isLatestPolicy: true,
					preferences,
					givenAt: new Date(Date.UTC(2026, 11, 1, 0, i)).toISOString(),
				})),
				isValid: true,
			});
		},
	};
}

const destinations = () => [
	metaPixel(
		{ pixelId: '1234567890', accessToken: META_TOKEN },
		true,
		'marketing',
		'meta'
	),
	googleAnalytics(
		{ measurementId: 'G-ABC123XYZ', apiSecret: 'ga4secret0123' },
		true,
		'measurement',
		'ga4'
	),
	posthog(
		{ apiKey: 'phc_abc12345XYZ', host: 'https://eu.i.posthog.com' },
		true,
		'measurement',
		'posthog'
	),
	tiktokPixel(
		{ pixelId: 'C4D45N9U9OSI64ECRUG0', accessToken: TIKTOK_TOKEN },
		true,
		'marketing',
		'tiktok'
	),
];

function handlerWith(c15t, list = destinations(), extraEnv = {}) {
	return createAnalyticsHandler({
		basePath: '/analytics',
		trustedOrigins: ['https://shop.example'],
		destinations: list,
		c15t,
		env: env(extraEnv),
	});
}

/** Posts an event; returns the response and the work handed to waitUntil, awaited. */
async function post(handler, body, { headers = {}, query = '' } = {}) {
	const pending = [];
	const response = await handler(
		new Request(`https://worker.example/analytics/events${query}`, {
			method: 'POST',
			headers: {
				'Content-Type': 'application/json',
				'User-Agent': 'Mozilla/5.0 (canary)',
				'CF-Connecting-IP': '203.0.113.7',
				...headers,
			},
			body: typeof body === 'string' ? body : JSON.stringify(body),
		}),
		{ waitUntil: (p) => pending.push(p) }
	);
	const json = await response.json();
	await Promise.all(pending);
	return { response, json, pending };
}

const purchase = (extra = {}) => ({
	event: 'Purchase',
	eventId: 'evt-1',
	subjectId: SUBJECT,
	url: 'https://shop.example/checkout/done',
	properties: {
		value: 42.5,
		currency: 'EUR',
		contentIds: ['sku-1'],
		orderId: 'o-7',
	},
	user: { email: EMAIL, phone: PHONE, externalId: 'user-77' },
	...extra,
});

const to = (prefix) => requests.filter((r) => r.url.startsWith(prefix));

describe('POST /analytics/events', () => {
	it('answers 202 at once and forwards only to what the subject granted', async () => {
		const c15t = c15tWith({
			[SUBJECT]: [{ measurement: true, marketing: false }],
		});
		const { response, json, pending } = await post(
			handlerWith(c15t),
			purchase()
		);
		assert.equal(response.status, 202);
		assert.deepEqual(json, { accepted: true, eventId: 'evt-1' });
		assert.equal(pending.length, 1, 'the forwarding runs in waitUntil');
		assert.deepEqual(c15t.calls, [`/subjects/${SUBJECT}?type=cookie_banner`]);
		assert.equal(to('/mp/collect').length, 1, 'GA4');
		assert.equal(to('/i/v0/e/').length, 1, 'PostHog');
		assert.equal(to('/v21.0/').length, 0, 'not Meta');
		assert.equal(to('/open_api/').length, 0, 'not TikTok');
		// GA4 is told ads consent is denied and gets no user data.
		const ga4 = JSON.parse(to('/mp/collect')[0].body);
		assert.deepEqual(ga4.consent, {
			ad_user_data: 'DENIED',
			ad_personalization: 'DENIED',
		});
		assert.equal(ga4.user_data, undefined);
		assert.equal(ga4.client_id, SUBJECT);
		assert.equal(ga4.user_id, 'user-77');
		assert.deepEqual(ga4.events, [
			{
				name: 'purchase',
				params: {
					page_location: 'https://shop.example/checkout/done',
					engagement_time_msec: 1,
					value: 42.5,
					currency: 'EUR',
					transaction_id: 'o-7',
					items: [{ item_id: 'sku-1' }],
				},
			},
		]);
		const url = new URL(to('/mp/collect')[0].url, base());
		assert.equal(url.searchParams.get('measurement_id'), 'G-ABC123XYZ');
		assert.equal(url.searchParams.get('api_secret'), 'ga4secret0123');
		const ph = JSON.parse(to('/i/v0/e/')[0].body);
		assert.equal(ph.api_key, 'phc_abc12345XYZ');
		assert.equal(ph.event, 'Purchase');
		assert.equal(ph.distinct_id, 'user-77');
		assert.equal(ph.properties.$ip, '203.0.113.7');
		assert.equal(
			ph.properties.$current_url,
			'https://shop.example/checkout/done'
		);
	});

	it('the latest banner record decides: marketing granted later reaches Meta and TikTok, hashed', async () => {
		const c15t = c15tWith({
			[SUBJECT]: [
				{ measurement: true },
				{ measurement: true, marketing: true },
			],
		});
		await post(handlerWith(c15t), purchase());
		const meta = to('/v21.0/1234567890/events');
		assert.equal(meta.length, 1);
		const body = JSON.parse(meta[0].body);
		assert.equal(body.access_token, META_TOKEN);
		const [data] = body.data;
		assert.equal(data.event_name, 'Purchase');
		assert.equal(data.event_id, 'evt-1');
		assert.equal(data.action_source, 'website');
		assert.equal(data.event_source_url, 'https://shop.example/checkout/done');
		assert.ok(Math.abs(data.event_time - Date.now() / 1000) < 60);
		assert.deepEqual(data.user_data, {
			em: [sha('canary.person@example.com')],
			ph: [sha('442079460958')],
			external_id: [sha('user-77')],
			client_ip_address: '203.0.113.7',
			client_user_agent: 'Mozilla/5.0 (canary)',
		});
		assert.deepEqual(data.custom_data, {
			value: 42.5,
			currency: 'EUR',
			content_ids: ['sku-1'],
			content_type: 'product',
			order_id: 'o-7',
		});
		const tiktok = to('/open_api/v1.3/event/track/');
		assert.equal(tiktok.length, 1);
		assert.equal(tiktok[0].headers['access-token'], TIKTOK_TOKEN);
		const tt = JSON.parse(tiktok[0].body);
		assert.equal(tt.event_source, 'web');
		assert.equal(tt.event_source_id, 'C4D45N9U9OSI64ECRUG0');
		assert.equal(tt.data[0].event, 'CompletePayment');
		assert.equal(tt.data[0].user.email, sha('canary.person@example.com'));
		assert.equal(tt.data[0].user.phone, sha('+442079460958'));
		// GA4 now gets the ads signals granted and the hashed user data.
		const ga4 = JSON.parse(to('/mp/collect')[0].body);
		assert.deepEqual(ga4.consent, {
			ad_user_data: 'GRANTED',
			ad_personalization: 'GRANTED',
		});
		assert.deepEqual(ga4.user_data, {
			sha256_email_address: [sha('canary.person@example.com')],
			sha256_phone_number: [sha('+442079460958')],
		});
		// The canary: no plain email or phone in any outbound request.
		for (const r of requests) {
			const all =
				`${r.url} ${JSON.stringify(r.headers)} ${r.body}`.toLowerCase();
			assert.ok(!all.includes('canary.person'), `${r.url} carries the email`);
			assert.ok(!all.includes('7946'), `${r.url} carries the phone`);
		}
	});

	it('Meta gets Limited Data Use when the destination asks for it', async () => {
		const c15t = c15tWith({ [SUBJECT]: [{ marketing: true }] });
		const handler = handlerWith(c15t, [
			metaPixel(
				{
					pixelId: '1234567890',
					accessToken: META_TOKEN,
					limitedDataUse: true,
				},
				true,
				'marketing',
				'meta'
			),
		]);
		await post(handler, purchase());
		const [data] = JSON.parse(to('/v21.0/')[0].body).data;
		assert.deepEqual(data.data_processing_options, ['LDU']);
		assert.equal(data.data_processing_options_country, 0);
		assert.equal(data.data_processing_options_state, 0);
	});

	it('an unknown subject, however the body is forged, forwards nothing', async () => {
		const c15t = c15tWith({
			[OTHER]: [{ marketing: true, measurement: true }],
		});
		const { response } = await post(handlerWith(c15t), {
			...purchase(),
			consent: { marketing: true },
		});
		assert.equal(response.status, 400, 'a consent claim is not even accepted');
		const forged = await post(handlerWith(c15t), purchase());
		assert.equal(forged.response.status, 202);
		assert.deepEqual(requests, []);
	});

	it('a subject without a banner record or with everything refused gets nothing sent', async () => {
		const c15t = c15tWith({
			[SUBJECT]: [{ measurement: false, marketing: false }],
		});
		await post(handlerWith(c15t), purchase());
		assert.deepEqual(requests, []);
	});

	it('takes the subject from c15t’s cookie when the body has none', async () => {
		const c15t = c15tWith({ [SUBJECT]: [{ measurement: true }] });
		const { subjectId: _, ...body } = purchase();
		const { response } = await post(handlerWith(c15t), body, {
			headers: {
				Cookie: `other=1; c15t=c.necessary:1,c.measurement:1,i.sid:${SUBJECT},i.t:1700000000000`,
			},
		});
		assert.equal(response.status, 202);
		assert.deepEqual(c15t.calls, [`/subjects/${SUBJECT}?type=cookie_banner`]);
		assert.equal(to('/mp/collect').length, 1);
	});

	it('refuses bad bodies with every problem named, and forwards nothing', async () => {
		const c15t = c15tWith({ [SUBJECT]: [{ measurement: true }] });
		const handler = handlerWith(c15t);
		const { response, json } = await post(handler, {
			event: 'Buy now!',
			subjectId: 'user-1',
			url: 'ftp://x',
			properties: {
				value: -1,
				currency: 'eur',
				'bad key': 1,
				nested: { a: 1 },
			},
			user: { email: 'nope', phone: '0201234', password: 'x' },
			extra: true,
		});
		assert.equal(response.status, 400);
		assert.equal(json.error, 'invalid event');
		const paths = json.problems.map((p) => p.split(':')[0]);
		for (const path of [
			'/',
			'/event',
			'/subjectId',
			'/url',
			'/properties/value',
			'/properties/currency',
			'/properties',
			'/properties/nested',
			'/user',
			'/user/email',
			'/user/phone',
		]) {
			assert.ok(
				paths.includes(path),
				`no problem at ${path}: ${json.problems.join(' | ')}`
			);
		}
		const none = await post(handler, { event: 'Purchase' });
		assert.equal(none.response.status, 400);
		assert.match(none.json.problems[0], /^\/subjectId: is required/);
		const text = await post(handler, 'not json');
		assert.equal(text.response.status, 400);
		const big = await post(handler, {
			event: 'Lead',
			subjectId: SUBJECT,
			properties: { a: 'x'.repeat(400), b: 'y'.repeat(400) },
		});
		assert.equal(big.response.status, 202);
		const huge = await post(
			handler,
			JSON.stringify({
				event: 'Lead',
				subjectId: SUBJECT,
				eventId: 'x'.repeat(40_000),
			})
		);
		assert.equal(huge.response.status, 413);
		const form = await handler(
			new Request('https://worker.example/analytics/events', {
				method: 'POST',
				headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
				body: 'a=1',
			})
		);
		assert.equal(form.status, 415);
		const get = await handler(
			new Request('https://worker.example/analytics/events')
		);
		assert.equal(get.status, 405);
		assert.equal(get.headers.get('Allow'), 'POST, OPTIONS');
		assert.deepEqual(
			c15t.calls.length,
			1,
			'only the valid event was looked up'
		);
		assert.equal(
			requests.filter(
				(r) => !r.url.startsWith('/mp/') && !r.url.startsWith('/i/')
			).length,
			0
		);
	});

	it('answers CORS preflights for trusted origins, with credentials for the cookie', async () => {
		const handler = handlerWith(c15tWith({}));
		const preflight = await handler(
			new Request('https://worker.example/analytics/events', {
				method: 'OPTIONS',
				headers: {
					Origin: 'https://shop.example',
					'Access-Control-Request-Method': 'POST',
					'Access-Control-Request-Headers': 'content-type',
				},
			})
		);
		assert.equal(preflight.status, 204);
		assert.equal(
			preflight.headers.get('Access-Control-Allow-Origin'),
			'https://shop.example'
		);
		assert.equal(
			preflight.headers.get('Access-Control-Allow-Methods'),
			'POST, OPTIONS'
		);
		assert.equal(
			preflight.headers.get('Access-Control-Allow-Credentials'),
			'true'
		);
		const stranger = await handler(
			new Request('https://worker.example/analytics/events', {
				method: 'OPTIONS',
				headers: { Origin: 'https://evil.example' },
			})
		);
		assert.equal(stranger.headers.get('Access-Control-Allow-Origin'), null);
	});

	it('a vendor answering 500 is retried, does not stop the others, and never delays the 202', async () => {
		const c15t = c15tWith({
			[SUBJECT]: [{ measurement: true, marketing: true }],
		});
		let metaCalls = 0;
		answer = (r) => {
			if (r.url.startsWith('/v21.0/')) {
				metaCalls += 1;
				return {
					status: 500,
					body: '{"error":{"message":"Service temporarily unavailable","code":2}}',
				};
			}
			if (r.url.startsWith('/open_api/')) {
				return { status: 200, body: '{"code":0,"message":"OK"}' };
			}
			return { status: 200, body: '{}' };
		};
		const started = Date.now();
		const { response, json } = await post(handlerWith(c15t), purchase(), {
			query: '?debug=1',
			headers: { Authorization: `Bearer ${DEBUG_SECRET}` },
		}).catch((e) => ({ response: { status: 0 }, json: { e: String(e) } }));
		// Without the debug secret configured, debug mode is refused.
		assert.equal(response.status, 403, JSON.stringify(json));
		const handler = handlerWith(c15t, destinations(), {
			C15T_EVENTS_DEBUG_SECRET: DEBUG_SECRET,
		});
		const plain = await post(handler, purchase());
		assert.equal(plain.response.status, 202);
		assert.equal(metaCalls, 3, 'three attempts');
		assert.equal(to('/mp/collect').length, 1);
		assert.equal(to('/open_api/').length, 1);
		assert.ok(Date.now() - started < 10_000);
		metaCalls = 0;
		requests = [];
		const debug = await post(handler, purchase(), {
			query: '?debug=1',
			headers: { Authorization: `Bearer ${DEBUG_SECRET}` },
		});
		assert.equal(debug.response.status, 200);
		assert.deepEqual(debug.json.subject.granted.sort(), [
			'marketing',
			'measurement',
			'necessary',
		]);
		const byId = Object.fromEntries(
			debug.json.destinations.map((d) => [d.id, d])
		);
		assert.equal(byId.meta.outcome, 'failed');
		assert.equal(byId.meta.attempts, 3);
		assert.equal(byId.meta.status, 500);
		assert.match(
			byId.meta.message,
			/Meta Conversions API: Service temporarily unavailable \(code 2\)/
		);
		assert.equal(byId.tiktok.outcome, 'sent');
		assert.equal(byId.posthog.outcome, 'sent');
		assert.equal(byId.ga4.outcome, 'sent');
		assert.equal(
			to('/debug/mp/collect').length,
			1,
			'debug mode uses GA4’s validation server'
		);
	});

	it('debug mode needs the worker’s secret; a wrong one is refused', async () => {
		const handler = handlerWith(
			c15tWith({ [SUBJECT]: [{ measurement: true }] }),
			destinations(),
			{ C15T_EVENTS_DEBUG_SECRET: DEBUG_SECRET }
		);
		const none = await post(handler, purchase(), { query: '?debug=1' });
		assert.equal(none.response.status, 401);
		const wrong = await post(handler, purchase(), {
			query: '?debug=1',
			headers: { Authorization: 'Bearer nope' },
		});
		assert.equal(wrong.response.status, 401);
		assert.deepEqual(requests, []);
	});

	it('refusals are not retried, and vendor messages never show a secret', async () => {
		const c15t = c15tWith({
			[SUBJECT]: [{ measurement: true, marketing: true }],
		});
		answer = (r) =>
			r.url.startsWith('/v21.0/')
				? {
						status: 400,
						body: JSON.stringify({
							error: {
								message: `Invalid OAuth access token - Cannot parse access token ${META_TOKEN}`,
								type: 'OAuthException',
								code: 190,
							},
						}),
					}
				: r.url.startsWith('/open_api/')
					? {
							status: 200,
							body: '{"code":40001,"message":"Access token is incorrect or has been revoked."}',
						}
					: { status: 200, body: '{}' };
		const handler = handlerWith(c15t, destinations(), {
			C15T_EVENTS_DEBUG_SECRET: DEBUG_SECRET,
		});
		const { json } = await post(handler, purchase(), {
			query: '?debug=1',
			headers: { Authorization: `Bearer ${DEBUG_SECRET}` },
		});
		const byId = Object.fromEntries(json.destinations.map((d) => [d.id, d]));
		assert.equal(byId.meta.attempts, 1);
		assert.equal(
			byId.meta.message,
			'Meta Conversions API: Invalid OAuth access token - Cannot parse access token *** (code 190)'
		);
		assert.equal(byId.tiktok.outcome, 'failed');
		assert.equal(
			byId.tiktok.message,
			'TikTok Events API: Access token is incorrect or has been revoked. (code 40001)'
		);
		const text = JSON.stringify(json);
		assert.ok(
			!text.includes(META_TOKEN) &&
				!text.includes(TIKTOK_TOKEN) &&
				!text.includes('ga4secret0123')
		);
	});

	it('a destination without its server secret is browser only, and disabled ones get nothing', async () => {
		const c15t = c15tWith({
			[SUBJECT]: [{ measurement: true, marketing: true }],
		});
		const handler = handlerWith(
			c15t,
			[
				metaPixel({ pixelId: '1234567890' }, true, 'marketing', 'meta'),
				googleAnalytics(
					{ measurementId: 'G-ABC123XYZ', apiSecret: 'ga4secret0123' },
					false,
					'measurement',
					'ga4'
				),
			],
			{ C15T_EVENTS_DEBUG_SECRET: DEBUG_SECRET }
		);
		const { json } = await post(handler, purchase(), {
			query: '?debug=1',
			headers: { Authorization: `Bearer ${DEBUG_SECRET}` },
		});
		assert.deepEqual(json.destinations, [
			{
				id: 'meta',
				type: 'meta-pixel',
				api: 'Meta Conversions API',
				outcome: 'not_configured',
				attempts: 0,
				message: 'no Conversions API access token (`accessToken`) is set',
			},
		]);
		assert.deepEqual(requests, []);
	});

	it('without the c15t instance the route says so', async () => {
		const handler = createAnalyticsHandler({ destinations: destinations() });
		const { response, json } = await post(handler, purchase());
		assert.equal(response.status, 501);
		assert.match(json.error, /c15t instance/);
	});

	it('serves its JSON schema', async () => {
		const handler = handlerWith(c15tWith({}));
		const response = await handler(
			new Request('https://worker.example/analytics/events/schema')
		);
		assert.equal(response.status, 200);
		const schema = await response.json();
		assert.equal(schema.title, 'c15t server-side event');
		assert.deepEqual(schema.required, ['event']);
	});
});

describe('every vendor with a server API', () => {
	const all = () => [
		...destinations(),
		mixpanel(
			{ token: 'mptoken0123', apiSecret: 'mpsecret0123' },
			true,
			'measurement',
			'mixpanel'
		),
		amplitude({ apiKey: 'ampkey0123' }, true, 'measurement', 'amplitude'),
		segment({ writeKey: 'segkey0123' }, true, 'measurement', 'segment'),
		plausible({ domain: 'shop.example' }, true, 'measurement', 'plausible'),
		umami(
			{
				websiteId: '94db1cb1-74f4-4a40-ad6c-962362670409',
				hostUrl: 'https://umami.shop.example',
			},
			true,
			'measurement',
			'umami'
		),
		matomo(
			{
				matomoUrl: 'https://matomo.shop.example',
				siteId: 3,
				tokenAuth: 'matomotoken0123',
			},
			true,
			'measurement',
			'matomo'
		),
		redditPixel(
			{ pixelId: 'a2_abc123', accessToken: 'redditcanary0123' },
			true,
			'marketing',
			'reddit'
		),
		rudderstack(
			{
				writeKey: '2AbCdEfGhIjKlMnOpQrStUvWxYz',
				dataPlaneUrl: 'https://acme.dataplane.rudderstack.com',
			},
			true,
			'measurement',
			'rudderstack'
		),
		hightouch(
			{ writeKey: 'htwritekey0123456789' },
			true,
			'measurement',
			'hightouch'
		),
		linkedinInsight(
			{
				partnerId: '123456',
				accessToken: 'linkedincanary0123',
				conversionRuleId: '987654',
			},
			true,
			'marketing',
			'linkedin'
		),
		snapchatPixel(
			{
				pixelId: '11111111-2222-3333-4444-555555555555',
				accessToken: 'snapcanary0123',
			},
			true,
			'marketing',
			'snapchat'
		),
	];

	it('the catalogue and the runtime agree on which kinds have one', async () => {
		const withEvents = Object.keys(catalogue)
			.filter((slug) => catalogue[slug].events !== null)
			.sort();
		const sent = new Set(all().map((d) => d.type));
		assert.deepEqual([...sent].sort(), withEvents);
	});

	it('each gets the event in its documented shape, and none gets an email or phone in plain text', async () => {
		const c15t = c15tWith({
			[SUBJECT]: [{ measurement: true, marketing: true }],
		});
		const handler = handlerWith(c15t, all(), {
			C15T_EVENTS_DEBUG_SECRET: DEBUG_SECRET,
		});
		const { json } = await post(handler, purchase(), {
			query: '?debug=1',
			headers: { Authorization: `Bearer ${DEBUG_SECRET}` },
		});
		for (const d of json.destinations) {
			assert.equal(d.outcome, 'sent', JSON.stringify(d));
		}
		const one = (prefix) => {
			const found = to(prefix);
			assert.equal(
				found.length,
				1,
				`one request to ${prefix}: ${requests.map((r) => r.url).join(', ')}`
			);
			return found[0];
		};
		const mp = one('/import');
		assert.match(mp.url, /strict=1/);
		assert.equal(
			mp.headers.authorization,
			`Basic ${Buffer.from('mpsecret0123:').toString('base64')}`
		);
		const [mpEvent] = JSON.parse(mp.body);
		assert.equal(mpEvent.event, 'Purchase');
		assert.equal(mpEvent.properties.token, 'mptoken0123');
		assert.equal(mpEvent.properties.distinct_id, 'user-77');
		const amp = JSON.parse(one('/2/httpapi').body);
		assert.equal(amp.api_key, 'ampkey0123');
		assert.equal(amp.events[0].event_type, 'Purchase');
		assert.equal(amp.events[0].device_id, SUBJECT);
		assert.equal(amp.events[0].insert_id, 'evt-1');
		const tracks = to('/v1/track');
		assert.equal(tracks.length, 3, 'Segment, RudderStack and Hightouch');
		const byKey = (key) =>
			tracks.find(
				(r) =>
					r.headers.authorization ===
					`Basic ${Buffer.from(`${key}:`).toString('base64')}`
			);
		for (const key of ['2AbCdEfGhIjKlMnOpQrStUvWxYz', 'htwritekey0123456789']) {
			const r = byKey(key);
			assert.ok(r, `a track call with write key ${key}`);
			const body = JSON.parse(r.body);
			assert.equal(body.event, 'Order Completed');
			assert.equal(body.anonymousId, SUBJECT);
			assert.equal(body.messageId, 'evt-1');
		}
		const seg = byKey('segkey0123');
		assert.equal(
			seg.headers.authorization,
			`Basic ${Buffer.from('segkey0123:').toString('base64')}`
		);
		assert.equal(JSON.parse(seg.body).event, 'Order Completed');
		const pl = one('/api/event');
		assert.equal(pl.headers['x-forwarded-for'], '203.0.113.7');
		assert.equal(pl.headers['user-agent'], 'Mozilla/5.0 (canary)');
		assert.deepEqual(JSON.parse(pl.body).revenue, {
			currency: 'EUR',
			amount: 42.5,
		});
		const um = JSON.parse(one('/api/send').body);
		assert.equal(um.type, 'event');
		assert.equal(um.payload.website, '94db1cb1-74f4-4a40-ad6c-962362670409');
		assert.equal(um.payload.url, '/checkout/done');
		const mt = new URLSearchParams(one('/matomo.php').body);
		assert.equal(mt.get('idsite'), '3');
		assert.equal(mt.get('rec'), '1');
		assert.equal(mt.get('idgoal'), '0');
		assert.equal(mt.get('revenue'), '42.5');
		assert.equal(mt.get('cip'), '203.0.113.7');
		assert.equal(mt.get('token_auth'), 'matomotoken0123');
		assert.match(mt.get('_id'), /^[0-9a-f]{16}$/);
		const rd = one('/api/v3/pixels/a2_abc123/conversion_events');
		assert.equal(rd.headers.authorization, 'Bearer redditcanary0123');
		assert.equal(JSON.parse(rd.body).data.test_mode, true, 'debug mode');
		const rdEvent = JSON.parse(rd.body).data.events[0];
		assert.deepEqual(rdEvent.type, { tracking_type: 'PURCHASE' });
		assert.equal(rdEvent.user.email, sha('canary.person@example.com'));
		const li = one('/rest/conversionEvents');
		assert.equal(li.headers.authorization, 'Bearer linkedincanary0123');
		assert.match(li.headers['linkedin-version'], /^\d{6}$/);
		assert.equal(li.headers['x-restli-protocol-version'], '2.0.0');
		assert.deepEqual(JSON.parse(li.body), {
			conversion: 'urn:lla:llaPartnerConversion:987654',
			conversionHappenedAt: JSON.parse(li.body).conversionHappenedAt,
			conversionValue: { currencyCode: 'EUR', amount: '42.5' },
			eventId: 'evt-1',
			user: {
				userIds: [
					{ idType: 'SHA256_EMAIL', idValue: sha('canary.person@example.com') },
				],
			},
		});
		const sn = one('/v3/11111111-2222-3333-4444-555555555555/events/validate');
		assert.equal(JSON.parse(sn.body).data[0].action_source, 'WEB');
		assert.equal(
			new URL(sn.url, base()).searchParams.get('access_token'),
			'snapcanary0123'
		);
		assert.equal(JSON.parse(sn.body).data[0].event_name, 'PURCHASE');
		for (const r of requests) {
			const text = `${r.url} ${r.body}`.toLowerCase();
			assert.ok(
				!text.includes('canary.person') && !text.includes('7946'),
				`${r.url} carries plain PII`
			);
		}
		assert.ok(
			!JSON.stringify(json).includes('canary0123'),
			'no secret in the debug answer'
		);
	});
});
