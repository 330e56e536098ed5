// The routes of createAnalyticsHandler: descriptors, consent filtering, secrets, CORS,
// caching and errors.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
	canaries,
	catalogue,
	clientSource,
	exampleDestination,
	getJSON,
	server,
	vendorSlugs,
} from './helpers.mjs';

const { createAnalyticsHandler, metaPixel, googleAnalytics, posthog } = server;
const BASE = 'https://worker.example';

function request(path, init = {}) {
	return new Request(`${BASE}${path}`, init);
}

const every = () =>
	Object.keys(catalogue).map((slug) => exampleDestination(slug));

describe('factories', () => {
	it('default enabled, category and id from the catalogue, and freeze', () => {
		const d = metaPixel({ pixelId: '123456789012345' });
		assert.deepEqual(
			{ ...d, settings: { ...d.settings } },
			{
				id: 'meta-pixel',
				type: 'meta-pixel',
				settings: { pixelId: '123456789012345' },
				enabled: true,
				category: 'marketing',
			}
		);
		assert.ok(Object.isFrozen(d) && Object.isFrozen(d.settings));
		const e = googleAnalytics(
			{ measurementId: 'G-ABC123XYZ' },
			false,
			'marketing',
			'ga'
		);
		assert.equal(e.enabled, false);
		assert.equal(e.category, 'marketing');
		assert.equal(e.id, 'ga');
		assert.equal(
			googleAnalytics({ measurementId: 'G-X1234' }).category,
			'measurement'
		);
	});

	it('exist for every catalogue kind', () => {
		for (const [slug, kind] of Object.entries(catalogue)) {
			assert.equal(typeof server[kind.factory], 'function', kind.factory);
			const d = server[kind.factory]({});
			assert.equal(d.type, slug);
			assert.equal(d.id, slug);
			assert.equal(d.category, kind.defaultCategory);
		}
	});

	it('reject a bad category or id', () => {
		assert.throws(() => metaPixel({ pixelId: '1' }, true, 'ads'), TypeError);
		assert.throws(
			() => metaPixel({ pixelId: '1' }, true, 'marketing', ''),
			TypeError
		);
	});
});

describe('createAnalyticsHandler construction', () => {
	it('rejects an unknown type', () => {
		assert.throws(
			() =>
				createAnalyticsHandler({
					destinations: [
						{
							id: 'x',
							type: 'no-such-kind',
							settings: {},
							enabled: true,
							category: 'marketing',
						},
					],
				}),
			{ name: 'TypeError', message: /unknown destination type `no-such-kind`/ }
		);
	});

	it('rejects duplicate ids', () => {
		assert.throws(
			() =>
				createAnalyticsHandler({
					destinations: [
						metaPixel({ pixelId: '1234567' }, true, 'marketing', 'same'),
						posthog({ apiKey: 'phc_abcdefgh' }, true, 'measurement', 'same'),
					],
				}),
			{ name: 'TypeError', message: /two destinations have the id `same`/ }
		);
	});

	it('rejects malformed destinations and options', () => {
		const bad = [
			{ destinations: 'nope' },
			{ destinations: [null] },
			{
				destinations: [
					{
						id: 'a',
						type: 'meta-pixel',
						settings: null,
						enabled: true,
						category: 'marketing',
					},
				],
			},
			{
				destinations: [
					{
						id: 'a',
						type: 'meta-pixel',
						settings: {},
						enabled: 'yes',
						category: 'marketing',
					},
				],
			},
			{
				destinations: [
					{
						id: 'a',
						type: 'meta-pixel',
						settings: { pixelId: { x: 1 } },
						enabled: true,
						category: 'marketing',
					},
				],
			},
			{ destinations: [], basePath: 'analytics' },
			{ destinations: [], trustedOrigins: 'example.com' },
		];
		for (const options of bad) {
			assert.throws(
				() => createAnalyticsHandler(options),
				TypeError,
				JSON.stringify(options)
			);
		}
	});
});

describe('GET /scripts', () => {
	it('describes every enabled destination with a vendor, options from the catalogue map only', async () => {
		const handler = createAnalyticsHandler({
			destinations: [
				metaPixel({
					pixelId: '123456789012345',
					accessToken: 'CANARY-1',
					testEventCode: 'TEST123',
				}),
				googleAnalytics(
					{ measurementId: 'G-ABC123XYZ' },
					true,
					'marketing',
					'ga4'
				),
				posthog({ apiKey: 'phc_abc12345XYZ' }, false),
			],
		});
		const { response, body } = await getJSON(handler, '/analytics/scripts');
		assert.equal(response.status, 200);
		assert.equal(
			response.headers.get('Content-Type'),
			'application/json; charset=utf-8'
		);
		assert.deepEqual(body, {
			scripts: [
				{
					id: 'meta-pixel',
					type: 'meta-pixel',
					vendor: 'meta-pixel',
					function: 'metaPixel',
					options: { pixelId: '123456789012345' },
					category: 'marketing',
					alwaysLoad: catalogue['meta-pixel'].alwaysLoad,
				},
				{
					id: 'ga4',
					type: 'google-analytics',
					vendor: 'google-tag',
					function: 'gtag',
					// categoryOption takes the destination's configured category
					options: { id: 'G-ABC123XYZ', category: 'marketing' },
					category: 'marketing',
					alwaysLoad: catalogue['google-analytics'].alwaysLoad,
				},
			],
		});
	});

	it('nests dotted vendor options', async () => {
		const dotted = vendorSlugs.find((slug) =>
			Object.values(catalogue[slug].options).some((path) => path.includes('.'))
		);
		assert.ok(dotted, 'no catalogue kind has a dotted vendor option to test');
		const handler = createAnalyticsHandler({
			destinations: [exampleDestination(dotted)],
		});
		const { body } = await getJSON(handler, '/analytics/scripts');
		const [setting, path] = Object.entries(catalogue[dotted].options).find(
			([, p]) => p.includes('.')
		);
		const [head, ...rest] = path.split('.');
		let node = body.scripts[0].options[head];
		for (const segment of rest) {
			assert.equal(typeof node, 'object', `${dotted}: ${path}`);
			node = node[segment];
		}
		assert.ok(node !== undefined, `${dotted}: ${setting} -> ${path}`);
	});

	it('drops unset and empty optional settings', async () => {
		const handler = createAnalyticsHandler({
			destinations: [posthog({ apiKey: 'phc_abc12345XYZ', host: '' })],
		});
		const { body } = await getJSON(handler, '/analytics/scripts');
		assert.deepEqual(body.scripts[0].options, { id: 'phc_abc12345XYZ' });
	});

	it('serves HEAD without a body and with the same ETag', async () => {
		const handler = createAnalyticsHandler({ destinations: every() });
		const get = await handler(request('/analytics/scripts'));
		const head = await handler(
			request('/analytics/scripts', { method: 'HEAD' })
		);
		assert.equal(head.status, 200);
		assert.equal(await head.text(), '');
		assert.equal(head.headers.get('ETag'), get.headers.get('ETag'));
	});

	it('honours a custom basePath', async () => {
		const handler = createAnalyticsHandler({
			destinations: every(),
			basePath: '/t/',
		});
		assert.equal((await handler(request('/t/scripts'))).status, 200);
		assert.equal((await handler(request('/t/client.js'))).status, 200);
		assert.equal((await handler(request('/analytics/scripts'))).status, 404);
	});
});

describe('consent filtering', () => {
	const destinations = () => [
		metaPixel({ pixelId: '1234567' }, true, 'marketing', 'mk'),
		posthog({ apiKey: 'phc_abcdefgh' }, true, 'measurement', 'ms'),
		metaPixel({ pixelId: '7654321' }, true, 'necessary', 'nc'),
		metaPixel({ pixelId: '1111111' }, true, 'experience', 'ex'),
		googleAnalytics({ measurementId: 'G-ABC123XYZ' }, true, 'marketing', 'ga'),
	];
	const alwaysLoaded = (id) =>
		catalogue[destinations().find((d) => d.id === id).type].alwaysLoad;
	const ids = async (query) => {
		const handler = createAnalyticsHandler({ destinations: destinations() });
		const { response, body } = await getJSON(
			handler,
			`/analytics/scripts${query}`
		);
		assert.equal(response.status, 200, JSON.stringify(body));
		return body.scripts.map((s) => s.id);
	};
	const q = (consent) =>
		`?consent=${encodeURIComponent(JSON.stringify(consent))}`;

	it('without consent, keeps every enabled destination', async () => {
		assert.deepEqual(await ids(''), ['mk', 'ms', 'nc', 'ex', 'ga']);
	});

	it('keeps granted categories, necessary and always-loaded ones only', async () => {
		const expected = (granted) =>
			['mk', 'ms', 'nc', 'ex', 'ga'].filter((id) => {
				const d = destinations().find((x) => x.id === id);
				return (
					alwaysLoaded(id) ||
					d.category === 'necessary' ||
					granted.includes(d.category)
				);
			});
		assert.deepEqual(await ids(q({})), expected([]));
		assert.deepEqual(
			await ids(q({ marketing: false, measurement: false })),
			expected([])
		);
		assert.deepEqual(
			await ids(q({ marketing: true })),
			expected(['marketing'])
		);
		assert.deepEqual(
			await ids(q({ measurement: true, experience: true, marketing: false })),
			expected(['measurement', 'experience'])
		);
		// always-loaded kinds (GA4 via gtag, PostHog) are never dropped
		const nothing = await ids(q({}));
		for (const id of ['ga', 'ms']) {
			if (alwaysLoaded(id)) {
				assert.ok(nothing.includes(id), id);
			}
		}
		assert.ok(nothing.includes('nc'));
		assert.ok(!nothing.includes('mk'));
	});

	it('answers a malformed consent with 400 naming the parameter', async () => {
		const handler = createAnalyticsHandler({ destinations: destinations() });
		for (const query of [
			'?consent=',
			'?consent=nope',
			'?consent=[true]',
			'?consent=true',
			q({ ads: true }),
			q({ marketing: 'yes' }),
			`${q({})}&consent=${encodeURIComponent('{}')}`,
		]) {
			const { response, body } = await getJSON(
				handler,
				`/analytics/scripts${query}`
			);
			assert.equal(response.status, 400, query);
			assert.match(body.error, /consent/, query);
			assert.match(
				body.error,
				/necessary, functionality, measurement, experience, marketing/
			);
			assert.match(body.error, /booleans/);
			assert.equal(response.headers.get('Vary'), 'Origin');
		}
	});
});

describe('secrets never leave', () => {
	it('no CANARY value in any body or header of any route', async () => {
		const handler = createAnalyticsHandler({
			destinations: every(),
			trustedOrigins: ['site.example'],
		});
		const withheld = Object.keys(catalogue).flatMap((slug) =>
			Object.values(canaries(slug))
		);
		assert.ok(withheld.length > 0);
		const consents = [
			'',
			'?consent=%7B%7D',
			`?consent=${encodeURIComponent(JSON.stringify({ necessary: true, functionality: true, measurement: true, experience: true, marketing: true }))}`,
			'?consent=bad',
		];
		const requests = [
			...consents.flatMap((c) =>
				['GET', 'HEAD', 'OPTIONS', 'POST'].map((method) =>
					request(`/analytics/scripts${c}`, {
						method,
						headers: {
							Origin: 'https://site.example',
							'Access-Control-Request-Method': 'GET',
						},
					})
				)
			),
			request('/analytics/client.js'),
			request('/analytics/nope'),
			request('/analytics'),
			request('/elsewhere'),
		];
		for (const r of requests) {
			const response = await handler(r);
			const text = `${[...response.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n${await response.text()}`;
			for (const canary of withheld) {
				assert.ok(
					!text.includes(canary),
					`${r.method} ${r.url} leaks ${canary}`
				);
			}
			assert.ok(
				!text.includes('CANARY'),
				`${r.method} ${r.url} leaks a canary`
			);
		}
	});
});

describe('CORS', () => {
	const trusted = [
		'example.com',
		'*.trusted.example',
		'localhost:3000',
		'https://www.shop.example',
	];
	const handler = createAnalyticsHandler({
		destinations: every(),
		trustedOrigins: trusted,
	});
	const allowOrigin = async (origin, path = '/analytics/scripts') =>
		(await handler(request(path, { headers: { Origin: origin } }))).headers.get(
			'Access-Control-Allow-Origin'
		);

	it('allows trusted origins with c15t semantics', async () => {
		for (const origin of [
			'https://example.com',
			'http://example.com',
			'https://www.example.com',
			'https://example.com:8443',
			'https://a.trusted.example',
			'https://a.b.trusted.example',
			'http://localhost:3000',
			'https://shop.example',
		]) {
			assert.equal(await allowOrigin(origin), origin, origin);
		}
	});

	it('refuses others', async () => {
		for (const origin of [
			'https://other.com',
			'https://example.com.evil.test',
			'https://trusted.example',
			'https://eviltrusted.example',
			'http://localhost:5173',
			'null',
			'not a url',
		]) {
			assert.equal(await allowOrigin(origin), null, origin);
		}
	});

	it('trusts nothing by default and everything with *', async () => {
		const none = createAnalyticsHandler({ destinations: [] });
		const all = createAnalyticsHandler({
			destinations: [],
			trustedOrigins: ['*'],
		});
		const r = () =>
			request('/analytics/scripts', { headers: { Origin: 'https://x.test' } });
		assert.equal(
			(await none(r())).headers.get('Access-Control-Allow-Origin'),
			null
		);
		assert.equal(
			(await all(r())).headers.get('Access-Control-Allow-Origin'),
			'https://x.test'
		);
	});

	it('sends Vary: Origin on every answer', async () => {
		for (const [path, method] of [
			['/analytics/scripts', 'GET'],
			['/analytics/scripts', 'OPTIONS'],
			['/analytics/scripts?consent=x', 'GET'],
			['/analytics/client.js', 'GET'],
			['/analytics/nope', 'GET'],
			['/analytics/scripts', 'DELETE'],
		]) {
			const response = await handler(request(path, { method }));
			assert.equal(response.headers.get('Vary'), 'Origin', `${method} ${path}`);
		}
	});

	it('answers preflights: 204 with methods for trusted origins, no CORS for refused ones', async () => {
		const preflight = (origin) =>
			handler(
				request('/analytics/scripts', {
					method: 'OPTIONS',
					headers: {
						Origin: origin,
						'Access-Control-Request-Method': 'GET',
						'Access-Control-Request-Headers': 'content-type',
					},
				})
			);
		const ok = await preflight('https://example.com');
		assert.equal(ok.status, 204);
		assert.equal(
			ok.headers.get('Access-Control-Allow-Origin'),
			'https://example.com'
		);
		assert.equal(
			ok.headers.get('Access-Control-Allow-Methods'),
			'GET, HEAD, OPTIONS'
		);
		assert.equal(
			ok.headers.get('Access-Control-Allow-Headers'),
			'content-type'
		);
		const refused = await preflight('https://other.com');
		assert.equal(refused.status, 204);
		for (const [name] of refused.headers) {
			assert.ok(!name.startsWith('access-control-'), name);
		}
	});

	it('serves client.js to any origin', async () => {
		assert.equal(
			await allowOrigin('https://other.com', '/analytics/client.js'),
			'*'
		);
	});
});

describe('caching', () => {
	it('gives strong ETags that depend on the config and the query, and 304s', async () => {
		const handler = createAnalyticsHandler({ destinations: every() });
		const first = await handler(request('/analytics/scripts'));
		const etag = first.headers.get('ETag');
		assert.match(etag, /^"[0-9a-f]{64}"$/);
		assert.equal(first.headers.get('Cache-Control'), 'public, max-age=60');
		const digest = Buffer.from(
			await crypto.subtle.digest(
				'SHA-256',
				new TextEncoder().encode(await first.text())
			)
		).toString('hex');
		assert.equal(etag, `"${digest}"`);

		const again = createAnalyticsHandler({ destinations: every() });
		assert.equal(
			(await again(request('/analytics/scripts'))).headers.get('ETag'),
			etag
		);
		const other = await handler(request('/analytics/scripts?consent=%7B%7D'));
		assert.notEqual(other.headers.get('ETag'), etag);

		for (const inm of [etag, `W/${etag}`, `"nope", ${etag}`, '*']) {
			const cached = await handler(
				request('/analytics/scripts', { headers: { 'If-None-Match': inm } })
			);
			assert.equal(cached.status, 304, inm);
			assert.equal(await cached.text(), '');
			assert.equal(cached.headers.get('ETag'), etag);
			assert.equal(cached.headers.get('Cache-Control'), 'public, max-age=60');
		}
		const stale = await handler(
			request('/analytics/scripts', { headers: { 'If-None-Match': '"nope"' } })
		);
		assert.equal(stale.status, 200);
	});

	it('serves the browser module with its own ETag and an hour of caching', async () => {
		const handler = createAnalyticsHandler({ destinations: [] });
		const response = await handler(request('/analytics/client.js'));
		assert.equal(response.status, 200);
		assert.equal(
			response.headers.get('Content-Type'),
			'text/javascript; charset=utf-8'
		);
		assert.equal(response.headers.get('Cache-Control'), 'public, max-age=3600');
		assert.equal(await response.text(), clientSource);
		const etag = response.headers.get('ETag');
		const cached = await handler(
			request('/analytics/client.js', { headers: { 'If-None-Match': etag } })
		);
		assert.equal(cached.status, 304);
		assert.equal(cached.headers.get('Access-Control-Allow-Origin'), '*');
	});
});

describe('errors', () => {
	const handler = createAnalyticsHandler({ destinations: every() });

	it('404 JSON for other paths', async () => {
		for (const path of [
			'/analytics',
			'/analytics/',
			'/analytics/script',
			'/analytics/scripts/x',
			'/other',
		]) {
			const { response, body } = await getJSON(handler, path);
			assert.equal(response.status, 404, path);
			assert.equal(typeof body.error, 'string');
		}
	});

	it('405 with Allow for other methods', async () => {
		for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
			for (const path of ['/analytics/scripts', '/analytics/client.js']) {
				const response = await handler(request(path, { method }));
				assert.equal(response.status, 405, `${method} ${path}`);
				assert.equal(response.headers.get('Allow'), 'GET, HEAD, OPTIONS');
				assert.match((await response.json()).error, new RegExp(method));
			}
		}
	});
});
