/**
 * Destinations as the factories make them, and their check.
 *
 * @packageDocumentation
 */

import type { ConsentCategory, Destination, Factory } from '@c15t/destinations';
import {
	CONSENT_CATEGORIES,
	isConsentCategory,
	KINDS,
	type KindSpec,
} from './catalogue.ts';

function kindOf(slug: string): KindSpec {
	const kind = KINDS.get(slug);
	if (kind === undefined) {
		throw new TypeError(
			`@c15t/destinations: unknown destination type \`${slug}\`; known types: ${[...KINDS.keys()].join(', ')}`
		);
	}
	return kind;
}

/**
 * The factory of one catalogue kind: `(settings, enabled = true, category = the kind's
 * default, id = the slug) => frozen Destination`.
 */
export function createFactory<Settings extends object>(
	slug: string
): Factory<Settings> {
	const kind = kindOf(slug);
	const factory = (
		settings: Settings,
		enabled = true,
		category: ConsentCategory = kind.defaultCategory,
		id: string = slug
	): Destination<Settings> =>
		checkDestination({
			id,
			type: slug,
			settings,
			enabled,
			category,
		}) as Destination<Settings>;
	Object.defineProperty(factory, 'name', { value: kind.factory });
	return factory;
}

function describe(value: unknown): string {
	if (value === null) {
		return 'null';
	}
	if (Array.isArray(value)) {
		return 'an array';
	}
	return typeof value === 'string' ? JSON.stringify(value) : typeof value;
}

/**
 * Checks a destination (from a factory or written by hand) and returns a frozen copy.
 *
 * @throws {TypeError} naming the destination and what is wrong with it.
 */
export function checkDestination(value: unknown): Destination {
	if (typeof value !== 'object' || value === null || Array.isArray(value)) {
		throw new TypeError(
			`@c15t/destinations: a destination must be an object, got ${describe(value)}`
		);
	}
	const { id, type, settings, enabled, category } = value as Record<
		string,
		unknown
	>;
	if (typeof id !== 'string' || id.trim() === '') {
		throw new TypeError(
			`@c15t/destinations: a destination's \`id\` must be a non-empty string, got ${describe(id)}`
		);
	}
	const where = `@c15t/destinations: destination \`${id}\``;
	if (typeof type !== 'string') {
		throw new TypeError(
			`${where}: \`type\` must be a string, got ${describe(type)}`
		);
	}
	if (!KINDS.has(type)) {
		throw new TypeError(
			`${where}: unknown destination type \`${type}\`; known types: ${[...KINDS.keys()].join(', ')}`
		);
	}
	if (
		typeof settings !== 'object' ||
		settings === null ||
		Array.isArray(settings)
	) {
		throw new TypeError(
			`${where}: \`settings\` must be an object, got ${describe(settings)}`
		);
	}
	if (typeof enabled !== 'boolean') {
		throw new TypeError(
			`${where}: \`enabled\` must be a boolean, got ${describe(enabled)}`
		);
	}
	if (!isConsentCategory(category)) {
		throw new TypeError(
			`${where}: \`category\` must be one of ${CONSENT_CATEGORIES.join(', ')}, got ${describe(category)}`
		);
	}
	return Object.freeze({
		id,
		type,
		settings: Object.isFrozen(settings)
			? settings
			: Object.freeze({ ...settings }),
		enabled,
		category,
	});
}
