// The browser module (the bundle served at /client.js), against the handler and a store
// that behaves like c15t's (setScripts appends, removeScript drops by id).

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it, mock } from 'node:test';
import {
	catalogue,
	exampleDestination,
	exampleOf,
	root,
	server,
	vendorSlugs,
} from './helpers.mjs';

const { loadDestinations } = await import(join(root, '.build', 'client.js'));

function fakeStore() {
	const calls = [];
	let scripts = [];
	const state = () => ({
		scripts,
		setScripts(added) {
			calls.push(['setScripts', added.map((s) => s.id)]);
			scripts = [...scripts, ...added];
		},
		removeScript(id) {
			calls.push(['removeScript', id]);
			scripts = scripts.filter((s) => s.id !== id);
		},
	});
	return {
		calls,
		getState: state,
		get scripts() {
			return scripts;
		},
	};
}

function fetchFrom(handler, seen = []) {
	return async (url, init) => {
		seen.push({ url, init });
		return handler(new Request(url, init));
	};
}

describe('loadDestinations', () => {
	it('hands every destination to the store as the real vendor Script', async () => {
		const handler = server.createAnalyticsHandler({
			destinations: vendorSlugs.map((slug) =>
				exampleDestination(slug, { category: 'experience' })
			),
		});
		const store = fakeStore();
		const seen = [];
		const ids = await loadDestinations({
			backendURL: 'https://worker.example/',
			store,
			fetch: fetchFrom(handler, seen),
		});
		assert.equal(seen.length, 1);
		assert.equal(seen[0].url, 'https://worker.example/analytics/scripts');
		assert.deepEqual(
			ids,
			vendorSlugs.map((slug) => `dest-${slug}`)
		);
		assert.deepEqual(store.calls, [['setScripts', ids]]);
		for (const [index, slug] of vendorSlugs.entries()) {
			const script = store.scripts[index];
			assert.equal(script.id, `dest-${slug}`);
			assert.equal(
				script.category,
				'experience',
				`${slug}: configured category wins`
			);
			assert.equal(script.src, exampleOf(slug).src, slug);
			assert.equal(
				script.alwaysLoad === true,
				catalogue[slug].alwaysLoad,
				slug
			);
		}
	});

	it('replaces what an earlier call handed over instead of duplicating it', async () => {
		const handler = server.createAnalyticsHandler({
			destinations: [exampleDestination('meta-pixel')],
		});
		const store = fakeStore();
		await loadDestinations({
			backendURL: 'https://w.example',
			store,
			fetch: fetchFrom(handler),
		});
		await loadDestinations({
			backendURL: 'https://w.example',
			store,
			fetch: fetchFrom(handler),
		});
		assert.deepEqual(store.calls, [
			['setScripts', ['dest-meta-pixel']],
			['removeScript', 'dest-meta-pixel'],
			['setScripts', ['dest-meta-pixel']],
		]);
		assert.equal(store.scripts.length, 1);
	});

	it('waits for window[namespace] and uses a custom basePath', async () => {
		const handler = server.createAnalyticsHandler({
			destinations: [exampleDestination('meta-pixel')],
			basePath: '/a',
		});
		const store = fakeStore();
		setTimeout(() => {
			globalThis.myStore = store;
		}, 60);
		try {
			const ids = await loadDestinations({
				backendURL: 'https://w.example',
				basePath: '/a',
				namespace: 'myStore',
				fetch: fetchFrom(handler),
			});
			assert.deepEqual(ids, ['dest-meta-pixel']);
			assert.equal(store.scripts.length, 1);
		} finally {
			delete globalThis.myStore;
		}
	});

	it('fails with the namespace when no store appears', async () => {
		const handler = server.createAnalyticsHandler({ destinations: [] });
		await assert.rejects(
			loadDestinations({
				backendURL: 'https://w.example',
				namespace: 'absentStore',
				storeTimeout: 80,
				fetch: fetchFrom(handler),
			}),
			/window\.absentStore/
		);
	});

	it('skips unknown vendors and functions with a warning, keeping the others', async () => {
		const warn = mock.method(console, 'warn', () => {});
		try {
			const store = fakeStore();
			const good = {
				id: 'ok',
				type: 'meta-pixel',
				vendor: 'meta-pixel',
				function: 'metaPixel',
				options: { pixelId: '1234567' },
				category: 'marketing',
				alwaysLoad: false,
			};
			const body = {
				scripts: [
					{ ...good, id: 'v', vendor: 'no-such-vendor' },
					{ ...good, id: 'f', function: 'toString' },
					{ ...good, id: 'p', vendor: '__proto__' },
					{ id: 'malformed' },
					good,
				],
			};
			const ids = await loadDestinations({
				backendURL: 'https://w.example',
				store,
				fetch: async () => Response.json(body),
			});
			assert.deepEqual(ids, ['ok']);
			assert.equal(warn.mock.callCount(), 4);
			assert.match(String(warn.mock.calls[0].arguments[0]), /no-such-vendor/);
		} finally {
			warn.mock.restore();
		}
	});

	it('throws on a failed request', async () => {
		await assert.rejects(
			loadDestinations({
				backendURL: 'https://w.example',
				store: fakeStore(),
				fetch: async () => new Response('nope', { status: 503 }),
			}),
			/503/
		);
	});
});
