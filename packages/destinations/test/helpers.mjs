// Shared by the tests: the fresh build (.build/, made by `node build.mjs --test`), the
// generated catalogue and contract, and example destinations.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXAMPLES } from './examples.mjs';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const server = await import(join(root, '.build', 'index.js'));
export const clientSource = readFileSync(
	join(root, '.build', 'client.js'),
	'utf8'
);
export const catalogue = JSON.parse(
	readFileSync(join(root, 'src', 'catalogue.json'), 'utf8')
);

/**
 * The contract's settings per kind slug, from types/c15t-destinations.d.ts:
 * `{ [slug]: { factory, settings: { [key]: { optional, type, secret } } } }`.
 */
export const contract = (() => {
	const dts = readFileSync(
		join(root, 'types', 'c15t-destinations.d.ts'),
		'utf8'
	);
	const interfaces = new Map();
	for (const m of dts.matchAll(
		/export interface (\w+Settings) \{([\s\S]*?)\n\t\}/g
	)) {
		const settings = {};
		for (const f of m[2].matchAll(
			/\/\*\*([\s\S]*?)\*\/\s*(\w+)(\??):\s*([^;]+);/g
		)) {
			settings[f[2]] = {
				optional: f[3] === '?',
				type: f[4].trim(),
				secret: f[1].includes('Secret:'),
			};
		}
		interfaces.set(m[1], settings);
	}
	const kinds = {};
	for (const m of dts.matchAll(
		/\/\*\* [^*]*?, slug `([\w-]+)`, default category `(\w+)`\. \*\/\s*export const (\w+): Factory<(\w+)>;/g
	)) {
		const settings = interfaces.get(m[4]);
		if (!settings) {
			throw new Error(`the contract has no interface ${m[4]}`);
		}
		kinds[m[1]] = { factory: m[3], defaultCategory: m[2], settings };
	}
	return kinds;
})();

/** The example of a kind, or a loud failure naming what to add. */
export function exampleOf(slug) {
	const example = EXAMPLES[slug];
	if (!example) {
		throw new Error(
			`catalogue kind \`${slug}\` has no example in test/examples.mjs: add realistic settings and the URL its @c15t/scripts function loads`
		);
	}
	return example;
}

/** `CANARY-...` values for every setting of a kind that must never reach a browser. */
export function canaries(slug) {
	const out = {};
	for (const [key, spec] of Object.entries(contract[slug]?.settings ?? {})) {
		if (!Object.hasOwn(catalogue[slug].options, key)) {
			out[key] = `CANARY-${slug}-${key}`;
		}
	}
	return out;
}

/** A destination of a kind with its example settings and canaries, via its factory. */
export function exampleDestination(slug, overrides = {}) {
	const kind = catalogue[slug];
	const factory = server[kind.factory];
	return factory(
		{ ...exampleOf(slug).settings, ...canaries(slug) },
		overrides.enabled ?? true,
		overrides.category ?? kind.defaultCategory,
		overrides.id ?? `dest-${slug}`
	);
}

export const vendorSlugs = Object.keys(catalogue).filter(
	(slug) => catalogue[slug].vendor !== null
);

export async function getJSON(handler, path, init = {}) {
	const response = await handler(
		new Request(`https://worker.example${path}`, init)
	);
	return { response, body: await response.json() };
}
