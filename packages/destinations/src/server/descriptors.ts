/**
 * Script descriptors: what a browser needs to build a destination's c15t `Script` with
 * `@c15t/scripts`. Built from the public settings the catalogue maps to vendor options, and
 * nothing else: a secret, or any setting the catalogue does not map, never gets here.
 *
 * @packageDocumentation
 */

import type {
	ConsentCategory,
	Destination,
	ScriptDescriptor,
} from '@c15t/destinations';
import {
	CONSENT_CATEGORIES,
	isConsentCategory,
	KINDS,
	type KindSpec,
} from './catalogue.ts';

type OptionValue = string | number | boolean;
type Options = { [key: string]: OptionValue | Options };

function deepFreeze<T extends object>(value: T): T {
	for (const nested of Object.values(value)) {
		if (typeof nested === 'object' && nested !== null) {
			deepFreeze(nested);
		}
	}
	return Object.freeze(value);
}

function setPath(
	target: Options,
	path: readonly string[],
	value: OptionValue
): void {
	let node = target;
	for (const segment of path.slice(0, -1)) {
		const next = node[segment];
		if (typeof next === 'object') {
			node = next;
		} else {
			const created: Options = {};
			node[segment] = created;
			node = created;
		}
	}
	const last = path[path.length - 1];
	if (last !== undefined) {
		node[last] = value;
	}
}

/** The value of a public setting as a vendor option, or `undefined` when it is unset. */
function optionValue(
	destination: Destination,
	setting: string
): OptionValue | undefined {
	const settings = destination.settings as Record<string, unknown>;
	if (!Object.hasOwn(settings, setting)) {
		return undefined;
	}
	const value = settings[setting];
	if (value === undefined || value === null) {
		return undefined;
	}
	if (typeof value === 'string') {
		// An empty optional setting means "the vendor's default", as the catalogue documents.
		return value.trim() === '' ? undefined : value;
	}
	if (
		typeof value === 'boolean' ||
		(typeof value === 'number' && Number.isFinite(value))
	) {
		return value;
	}
	throw new TypeError(
		`@c15t/destinations: destination \`${destination.id}\`: setting \`${setting}\` must be a string, a finite number or a boolean`
	);
}

/**
 * The descriptor of an enabled destination whose kind loads through `@c15t/scripts`, or
 * `null` (disabled, or no browser part).
 */
export function describeDestination(
	destination: Destination
): ScriptDescriptor | null {
	const kind: KindSpec | undefined = KINDS.get(destination.type);
	if (kind === undefined) {
		throw new TypeError(
			`@c15t/destinations: destination \`${destination.id}\`: unknown destination type \`${destination.type}\``
		);
	}
	const options: Options = {};
	for (const { setting, path } of kind.options) {
		const value = optionValue(destination, setting);
		if (value !== undefined) {
			setPath(options, path, value);
		}
	}
	if (!destination.enabled || kind.scripts === null) {
		return null;
	}
	if (kind.scripts.categoryOption !== null) {
		setPath(options, kind.scripts.categoryOption, destination.category);
	}
	return deepFreeze({
		id: destination.id,
		type: destination.type,
		vendor: kind.scripts.vendor,
		function: kind.scripts.function,
		options,
		category: destination.category,
		alwaysLoad: kind.scripts.alwaysLoad,
	});
}

/** The categories a visitor granted, from the `consent` query parameter. */
export type ConsentFilter =
	| { readonly ok: true; readonly granted: ReadonlySet<ConsentCategory> | null }
	| { readonly ok: false; readonly error: string };

const CONSENT_HELP = `the \`consent\` query parameter must be a JSON object mapping consent categories (${CONSENT_CATEGORIES.join(', ')}) to booleans, e.g. consent={"measurement":true,"marketing":false}`;

function invalid(detail: string): ConsentFilter {
	return {
		ok: false,
		error: `Invalid consent parameter: ${detail}; ${CONSENT_HELP}`,
	};
}

/** Parses `?consent=`; no parameter means "every enabled destination". */
export function parseConsent(params: URLSearchParams): ConsentFilter {
	const values = params.getAll('consent');
	if (values.length === 0) {
		return { ok: true, granted: null };
	}
	if (values.length > 1) {
		return invalid('it is given more than once');
	}
	let parsed: unknown;
	try {
		parsed = JSON.parse(values[0] ?? '');
	} catch {
		return invalid('it is not JSON');
	}
	if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
		return invalid('it is not a JSON object');
	}
	const granted = new Set<ConsentCategory>();
	for (const [key, value] of Object.entries(parsed)) {
		if (!isConsentCategory(key)) {
			return invalid(`\`${key.slice(0, 64)}\` is not a consent category`);
		}
		if (typeof value !== 'boolean') {
			return invalid(`the value of \`${key}\` is not a boolean`);
		}
		if (value) {
			granted.add(key);
		}
	}
	return { ok: true, granted };
}

/** Whether a destination loads for these grants: always-loaded, necessary, or granted. */
export function isConsented(
	descriptor: ScriptDescriptor,
	granted: ReadonlySet<ConsentCategory> | null
): boolean {
	return (
		granted === null ||
		descriptor.alwaysLoad ||
		descriptor.category === 'necessary' ||
		granted.has(descriptor.category)
	);
}

/** A key naming the answer for these grants (only what is granted matters). */
export function consentKey(
	granted: ReadonlySet<ConsentCategory> | null
): string {
	return granted === null
		? '*'
		: CONSENT_CATEGORIES.filter((c) => granted.has(c)).join(',');
}
