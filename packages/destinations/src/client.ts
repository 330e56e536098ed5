/**
 * The browser part of @c15t/destinations: fetches the worker's script descriptors, builds
 * each destination's c15t `Script` with the real `@c15t/scripts` vendor function, and hands
 * them to the page's c15t consent store, which loads each one when (and only when) its
 * category is granted, and again on later grants, without another request.
 *
 * @example
 * ```html
 * <script type="module">
 * 	import { loadDestinations } from 'https://consent.example.com/analytics/client.js';
 * 	loadDestinations({ backendURL: 'https://consent.example.com' });
 * </script>
 * ```
 *
 * @packageDocumentation
 */

import type { ConsentCategory, ScriptDescriptor } from '@c15t/destinations';
import type { Script } from 'c15t';
import { type VendorFunction, vendors } from './vendors.ts';

/** The part of c15t's consent store (`window[namespace]`, a zustand store) used here. */
export interface ConsentStoreLike {
	getState(): {
		readonly scripts: readonly Pick<Script, 'id'>[];
		setScripts(scripts: Script[]): void;
		removeScript(scriptId: string): void;
	};
}

export interface LoadDestinationsOptions {
	/** The worker's URL, as given to c15t's `backendURL`, e.g. `https://consent.example.com`. */
	readonly backendURL: string;
	/** Prefix of the destinations' routes; `/analytics` unless the worker says otherwise. */
	readonly basePath?: string;
	/** The c15t consent store; `window[namespace]` by default. */
	readonly store?: ConsentStoreLike;
	/** The namespace c15t exposes its store under (c15t's `namespace` option). */
	readonly namespace?: string;
	/** The `fetch` to use; the global one by default. */
	readonly fetch?: typeof fetch;
	/** How long to wait for c15t to expose its store, in milliseconds (default 10 000). */
	readonly storeTimeout?: number;
}

const PREFIX = '@c15t/destinations:';
const CATEGORIES: readonly string[] = [
	'necessary',
	'functionality',
	'measurement',
	'experience',
	'marketing',
];
const STORE_POLL_INTERVAL = 25;

function isStore(value: unknown): value is ConsentStoreLike {
	return (
		(typeof value === 'object' || typeof value === 'function') &&
		value !== null &&
		typeof (value as { getState?: unknown }).getState === 'function'
	);
}

/** Waits for c15t to put its store at `window[namespace]` (it may initialise after us). */
async function waitForStore(
	namespace: string,
	timeout: number
): Promise<ConsentStoreLike> {
	const host = globalThis as unknown as Record<string, unknown>;
	const deadline = Date.now() + timeout;
	for (;;) {
		const store = host[namespace];
		if (isStore(store)) {
			return store;
		}
		if (Date.now() >= deadline) {
			throw new Error(
				`${PREFIX} no c15t consent store at window.${namespace} after ${timeout} ms; initialise c15t (with namespace '${namespace}') on this page, or pass \`store\``
			);
		}
		await new Promise((resolve) => setTimeout(resolve, STORE_POLL_INTERVAL));
	}
}

function isDescriptor(value: unknown): value is ScriptDescriptor {
	if (typeof value !== 'object' || value === null) {
		return false;
	}
	const d = value as Record<string, unknown>;
	return (
		typeof d['id'] === 'string' &&
		d['id'] !== '' &&
		typeof d['type'] === 'string' &&
		typeof d['vendor'] === 'string' &&
		typeof d['function'] === 'string' &&
		typeof d['options'] === 'object' &&
		d['options'] !== null &&
		!Array.isArray(d['options']) &&
		typeof d['category'] === 'string' &&
		CATEGORIES.includes(d['category']) &&
		typeof d['alwaysLoad'] === 'boolean'
	);
}

function vendorFunction(descriptor: ScriptDescriptor): VendorFunction | null {
	const module = Object.hasOwn(vendors, descriptor.vendor)
		? vendors[descriptor.vendor]
		: undefined;
	if (module === undefined || !Object.hasOwn(module, descriptor.function)) {
		return null;
	}
	return module[descriptor.function] ?? null;
}

/**
 * Builds a destination's c15t `Script`: the vendor's own, with the destination's id and
 * its configured category (authoritative over the vendor's default).
 *
 * @returns the script, or `null` (with a console warning) when it cannot be built.
 */
export function buildScript(descriptor: ScriptDescriptor): Script | null {
	const fn = vendorFunction(descriptor);
	if (fn === null) {
		console.warn(
			`${PREFIX} skipping destination '${descriptor.id}': this client does not know @c15t/scripts/${descriptor.vendor} ${descriptor.function}()`
		);
		return null;
	}
	let script: Script;
	try {
		script = fn(descriptor.options as never);
	} catch (error) {
		console.warn(
			`${PREFIX} skipping destination '${descriptor.id}': ${descriptor.function}() failed:`,
			error
		);
		return null;
	}
	script.id = descriptor.id;
	script.category = descriptor.category satisfies ConsentCategory;
	return script;
}

function joinURL(backendURL: string, basePath: string, route: string): string {
	const base = backendURL.replace(/\/+$/, '');
	const path = basePath === '' ? '' : `/${basePath.replace(/^\/+|\/+$/g, '')}`;
	return `${base}${path === '/' ? '' : path}/${route}`;
}

/**
 * Loads the destinations configured in the worker into the page's c15t consent store.
 *
 * @returns the ids of the scripts handed to the store.
 * @throws when the descriptors cannot be fetched, or the store never appears.
 */
export async function loadDestinations(
	options: LoadDestinationsOptions
): Promise<string[]> {
	if (typeof options?.backendURL !== 'string' || options.backendURL === '') {
		throw new TypeError(`${PREFIX} \`backendURL\` is required`);
	}
	const namespace = options.namespace ?? 'c15tStore';
	const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
	const url = joinURL(
		options.backendURL,
		options.basePath ?? '/analytics',
		'scripts'
	);

	// No consent filter: c15t gates loading itself, so later grants need no refetch.
	const storePromise =
		options.store === undefined
			? waitForStore(namespace, options.storeTimeout ?? 10_000)
			: Promise.resolve(options.store);
	// Nothing awaits the store yet; a rejection must not be reported as unhandled.
	storePromise.catch(() => undefined);

	const response = await doFetch(url, {
		credentials: 'omit',
		headers: { Accept: 'application/json' },
	});
	if (!response.ok) {
		throw new Error(
			`${PREFIX} GET ${url} answered ${response.status} ${response.statusText}`.trim()
		);
	}
	const body: unknown = await response.json();
	const list =
		typeof body === 'object' && body !== null
			? (body as { scripts?: unknown }).scripts
			: undefined;
	if (!Array.isArray(list)) {
		throw new Error(`${PREFIX} GET ${url} did not answer {"scripts": [...]}`);
	}

	const scripts: Script[] = [];
	const ids = new Set<string>();
	for (const entry of list) {
		if (!isDescriptor(entry)) {
			console.warn(`${PREFIX} skipping a malformed script descriptor`, entry);
			continue;
		}
		if (ids.has(entry.id)) {
			console.warn(`${PREFIX} skipping a second destination '${entry.id}'`);
			continue;
		}
		const script = buildScript(entry);
		if (script !== null) {
			ids.add(entry.id);
			scripts.push(script);
		}
	}

	const store = await storePromise;
	const state = store.getState();
	// setScripts appends without de-duplicating: replace what an earlier call handed over.
	for (const script of scripts) {
		if (state.scripts.some((present) => present.id === script.id)) {
			state.removeScript(script.id);
		}
	}
	if (scripts.length > 0) {
		// setScripts updates the consent categories and runs updateScripts() itself.
		store.getState().setScripts(scripts);
	}
	return scripts.map((script) => script.id);
}
