// Every catalogue kind, end to end: factory -> handler -> descriptor -> the real
// @c15t/scripts function -> Script. Keeps src/catalogue.json (and so the Rust catalogue)
// honest about vendor modules, functions, option names and alwaysLoad.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EXAMPLES } from './examples.mjs';
import {
	catalogue,
	contract,
	exampleDestination,
	exampleOf,
	getJSON,
	root,
	server,
	vendorSlugs,
} from './helpers.mjs';
import { scriptOf, vendorInputs } from './scripts.mjs';

const slugs = Object.keys(catalogue);

describe('the catalogue and the contract', () => {
	it('every catalogue kind has an example, and every example a kind', () => {
		const missing = slugs.filter((slug) => !Object.hasOwn(EXAMPLES, slug));
		assert.deepEqual(
			missing,
			[],
			`kinds without an example in test/examples.mjs: ${missing.join(', ')}`
		);
		const stale = Object.keys(EXAMPLES).filter((slug) => !(slug in catalogue));
		assert.deepEqual(
			stale,
			[],
			`examples of unknown kinds: ${stale.join(', ')}`
		);
	});

	it('the contract declares every kind with the catalogue factory and category', () => {
		assert.deepEqual(Object.keys(contract).sort(), [...slugs].sort());
		for (const slug of slugs) {
			assert.equal(contract[slug].factory, catalogue[slug].factory, slug);
			assert.equal(
				contract[slug].defaultCategory,
				catalogue[slug].defaultCategory,
				slug
			);
		}
	});

	it('maps only public contract settings to vendor options', () => {
		for (const slug of slugs) {
			for (const setting of Object.keys(catalogue[slug].options)) {
				const spec = contract[slug].settings[setting];
				assert.ok(spec, `${slug}: option of unknown setting ${setting}`);
				assert.equal(
					spec.secret,
					false,
					`${slug}: secret ${setting} is mapped`
				);
			}
		}
	});

	it('examples give every required setting, and only contract settings', () => {
		for (const slug of slugs) {
			const { settings } = exampleOf(slug);
			for (const [key, spec] of Object.entries(contract[slug].settings)) {
				if (!spec.optional) {
					assert.ok(key in settings, `${slug}: example lacks required ${key}`);
				}
			}
			for (const key of Object.keys(settings)) {
				assert.ok(
					key in contract[slug].settings,
					`${slug}: unknown setting ${key}`
				);
			}
		}
	});
});

describe('the vendor registry (src/vendors.ts)', async () => {
	const { vendors } = await import(join(root, '.build', 'vendors.js'));
	const pairs = new Set(
		vendorSlugs.map((s) => `${catalogue[s].vendor} ${catalogue[s].function}`)
	);

	it('has exactly the (vendor, function) pairs of catalogue.json', () => {
		const registered = new Set(
			Object.entries(vendors).flatMap(([vendor, fns]) =>
				Object.keys(fns).map((fn) => `${vendor} ${fn}`)
			)
		);
		const missing = [...pairs].filter((p) => !registered.has(p));
		const stale = [...registered].filter((p) => !pairs.has(p));
		assert.deepEqual(
			missing,
			[],
			`add to src/vendors.ts (import { fn } from '@c15t/scripts/vendor'): ${missing.join(', ')}`
		);
		assert.deepEqual(
			stale,
			[],
			`remove from src/vendors.ts: ${stale.join(', ')}`
		);
	});

	it('holds the real @c15t/scripts functions', async () => {
		for (const [vendor, fns] of Object.entries(vendors)) {
			const real = await import(`@c15t/scripts/${vendor}`);
			for (const [name, fn] of Object.entries(fns)) {
				assert.equal(fn, real[name], `${vendor} ${name}`);
			}
		}
	});
});

describe('every kind with a vendor, through the handler and the real vendor function', () => {
	for (const slug of slugs) {
		const kind = catalogue[slug];
		if (kind.vendor === null) {
			it(`${slug} has no browser part, so no descriptor`, async () => {
				const handler = server.createAnalyticsHandler({
					destinations: [exampleDestination(slug)],
				});
				const { body } = await getJSON(handler, '/analytics/scripts');
				assert.deepEqual(body, { scripts: [] });
			});
			continue;
		}
		it(slug, async () => {
			const example = exampleOf(slug);
			const destination = exampleDestination(slug);
			const handler = server.createAnalyticsHandler({
				destinations: [destination],
			});
			const { response, body } = await getJSON(handler, '/analytics/scripts');
			assert.equal(response.status, 200);
			assert.equal(body.scripts.length, 1);
			const [descriptor] = body.scripts;
			assert.deepEqual(
				{ ...descriptor, options: undefined },
				{
					id: `dest-${slug}`,
					type: slug,
					vendor: kind.vendor,
					function: kind.function,
					options: undefined,
					category: kind.defaultCategory,
					alwaysLoad: kind.alwaysLoad,
				}
			);

			const script = await scriptOf(descriptor);
			assert.equal(script.id, `dest-${slug}`);
			assert.equal(script.category, kind.defaultCategory);
			assert.equal(
				script.src,
				example.src,
				`${slug}: the URL the vendor loads`
			);
			const url = new URL(script.src, 'https://site.example');
			assert.equal(url.protocol, 'https:', `${slug}: ${script.src}`);
			assert.notEqual(url.hostname, 'site.example', `${slug}: ${script.src}`);
			assert.equal(
				script.alwaysLoad === true,
				kind.alwaysLoad,
				`${slug}: catalogue.json says alwaysLoad ${kind.alwaysLoad}, @c15t/scripts ${kind.vendor} says ${script.alwaysLoad}`
			);

			// Every configured setting reaches the vendor: in the URL, the attributes, or
			// what the Script's callbacks hand to the vendor's globals.
			const { inputs } = vendorInputs(script);
			for (const [key, value] of Object.entries(example.settings)) {
				assert.ok(
					inputs.some((input) => input.includes(String(value))),
					`${slug}: setting ${key} (${value}) never reaches @c15t/scripts ${kind.vendor} ${kind.function}()`
				);
			}
		});
	}
});
