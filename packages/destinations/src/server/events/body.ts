/**
 * The body of `POST {basePath}/events`, checked against its JSON schema ({@link EVENT_SCHEMA})
 * with every problem named by its JSON pointer.
 *
 * @packageDocumentation
 */

/** The common event vocabulary every vendor maps to its own names. */
export const STANDARD_EVENTS = [
	'PageView',
	'ViewContent',
	'AddToCart',
	'Purchase',
	'Lead',
	'SignUp',
] as const;

export type StandardEvent = (typeof STANDARD_EVENTS)[number];

/** A property value: what every vendor API can carry. */
export type PropertyValue =
	| string
	| number
	| boolean
	| null
	| readonly string[];

/** An event as the caller sent it, checked. */
export interface EventBody {
	readonly event: string;
	readonly eventId: string | null;
	readonly subjectId: string | null;
	readonly url: string | null;
	readonly properties: Readonly<Record<string, PropertyValue>>;
	readonly user: {
		readonly email: string | null;
		readonly phone: string | null;
		readonly externalId: string | null;
	};
}

/** The largest body accepted, in bytes. */
export const MAX_BODY_BYTES = 32 * 1024;

const NAME = '^[A-Za-z][A-Za-z0-9_]{0,39}$';
const NAME_PATTERN = new RegExp(NAME);
/** c15t's subject ids (`@c15t/schema`'s `subjectIdSchema`). */
export const SUBJECT_ID = /^sub_[1-9A-HJ-NP-Za-km-z]+$/;
const CURRENCY = /^[A-Z]{3}$/;
const PHONE = /^(?:\+|00)[0-9][0-9 ().-]{5,24}$/;
const MAX_PROPERTIES = 50;
const MAX_TEXT = 500;
const MAX_LIST = 50;

/**
 * The JSON schema of the body (draft 2020-12), served at `GET {basePath}/events/schema` and
 * enforced by {@link parseEventBody}.
 */
export const EVENT_SCHEMA = Object.freeze({
	$schema: 'https://json-schema.org/draft/2020-12/schema',
	title: 'c15t server-side event',
	type: 'object',
	additionalProperties: false,
	required: ['event'],
	properties: {
		event: {
			description: `One of ${STANDARD_EVENTS.join(', ')}, or a custom name (a letter, then letters, digits or _, at most 40).`,
			type: 'string',
			pattern: NAME,
		},
		eventId: {
			description:
				'Deduplication id, the same as the browser pixel sends for this event; generated when absent.',
			type: 'string',
			minLength: 1,
			maxLength: 128,
		},
		subjectId: {
			description:
				"c15t's subject id; when absent it is read from the `c15t` cookie.",
			type: 'string',
			pattern: SUBJECT_ID.source,
		},
		url: {
			description: 'The page the event happened on (http or https).',
			type: 'string',
			format: 'uri',
			maxLength: 2048,
		},
		properties: {
			type: 'object',
			maxProperties: MAX_PROPERTIES,
			propertyNames: { pattern: NAME },
			additionalProperties: {
				anyOf: [
					{ type: 'string', maxLength: MAX_TEXT },
					{ type: 'number' },
					{ type: 'boolean' },
					{ type: 'null' },
					{
						type: 'array',
						maxItems: MAX_LIST,
						items: { type: 'string', maxLength: MAX_TEXT },
					},
				],
			},
			properties: {
				value: { type: 'number', minimum: 0 },
				currency: { type: 'string', pattern: CURRENCY.source },
				contentIds: {
					type: 'array',
					maxItems: MAX_LIST,
					items: { type: 'string' },
				},
				contentType: { type: 'string' },
				contentName: { type: 'string' },
				orderId: { type: 'string' },
				numItems: { type: 'integer', minimum: 0 },
			},
		},
		user: {
			description:
				'Identifiers for matching; email and phone are hashed (SHA-256) in the worker and never sent in plain text.',
			type: 'object',
			additionalProperties: false,
			properties: {
				email: { type: 'string', format: 'email', maxLength: 254 },
				phone: {
					description: 'International format: + or 00 and the country code.',
					type: 'string',
					pattern: PHONE.source,
				},
				externalId: { type: 'string', minLength: 1, maxLength: 256 },
			},
		},
	},
});

export type Parsed<T> =
	| { readonly ok: true; readonly value: T }
	| { readonly ok: false; readonly problems: readonly string[] };

function isRecord(value: unknown): value is Record<string, unknown> {
	return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function kind(value: unknown): string {
	if (value === null) {
		return 'null';
	}
	return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}

function hasControl(text: string): boolean {
	// biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point
	return /[\u0000-\u001f\u007f-\u009f]/.test(text);
}

function text(
	problems: string[],
	where: string,
	value: unknown,
	max: number
): string | null {
	if (typeof value !== 'string') {
		problems.push(`${where}: must be a string, got ${kind(value)}`);
		return null;
	}
	if (value.length === 0 || value.length > max) {
		problems.push(`${where}: must have 1 to ${max} characters`);
		return null;
	}
	if (hasControl(value)) {
		problems.push(`${where}: must not contain control characters`);
		return null;
	}
	return value;
}

function checkUrl(problems: string[], value: unknown): string | null {
	const url = text(problems, '/url', value, 2048);
	if (url === null) {
		return null;
	}
	let parsed: URL;
	try {
		parsed = new URL(url);
	} catch {
		problems.push('/url: must be an absolute URL such as https://example.com/');
		return null;
	}
	if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
		problems.push(`/url: must be http or https, got ${parsed.protocol}`);
		return null;
	}
	return parsed.href;
}

function checkProperty(
	problems: string[],
	key: string,
	value: unknown
): PropertyValue | undefined {
	const where = `/properties/${key}`;
	switch (key) {
		case 'value':
			if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
				problems.push(`${where}: must be a number of at least 0`);
				return undefined;
			}
			return value;
		case 'currency':
			if (typeof value !== 'string' || !CURRENCY.test(value)) {
				problems.push(
					`${where}: must be an ISO 4217 code in capitals, such as EUR`
				);
				return undefined;
			}
			return value;
		case 'numItems':
			if (!Number.isSafeInteger(value) || (value as number) < 0) {
				problems.push(`${where}: must be a whole number of at least 0`);
				return undefined;
			}
			return value as number;
		case 'contentIds':
			if (!Array.isArray(value)) {
				problems.push(`${where}: must be an array of strings`);
				return undefined;
			}
			break;
		case 'contentType':
		case 'contentName':
		case 'orderId':
			return text(problems, where, value, MAX_TEXT) ?? undefined;
	}
	if (value === null || typeof value === 'boolean') {
		return value;
	}
	if (typeof value === 'number') {
		if (!Number.isFinite(value)) {
			problems.push(`${where}: must be a finite number`);
			return undefined;
		}
		return value;
	}
	if (typeof value === 'string') {
		return text(problems, where, value, MAX_TEXT) ?? undefined;
	}
	if (Array.isArray(value)) {
		if (value.length > MAX_LIST) {
			problems.push(`${where}: must have at most ${MAX_LIST} items`);
			return undefined;
		}
		const items: string[] = [];
		for (const [i, item] of value.entries()) {
			const checked = text(problems, `${where}/${i}`, item, MAX_TEXT);
			if (checked !== null) {
				items.push(checked);
			}
		}
		return Object.freeze(items);
	}
	problems.push(
		`${where}: must be a string, number, boolean, null or an array of strings, got ${kind(value)}`
	);
	return undefined;
}

function checkProperties(
	problems: string[],
	value: unknown
): Readonly<Record<string, PropertyValue>> {
	if (value === undefined) {
		return Object.freeze({});
	}
	if (!isRecord(value)) {
		problems.push(`/properties: must be an object, got ${kind(value)}`);
		return Object.freeze({});
	}
	const entries = Object.entries(value);
	if (entries.length > MAX_PROPERTIES) {
		problems.push(`/properties: must have at most ${MAX_PROPERTIES} keys`);
	}
	const properties: Record<string, PropertyValue> = Object.create(null);
	for (const [key, item] of entries) {
		if (!NAME_PATTERN.test(key)) {
			problems.push(
				`/properties: key ${JSON.stringify(key.slice(0, 60))} must be a letter, then letters, digits or _ (at most 40)`
			);
			continue;
		}
		const checked = checkProperty(problems, key, item);
		if (checked !== undefined) {
			properties[key] = checked;
		}
	}
	return Object.freeze(properties);
}

function checkUser(problems: string[], value: unknown): EventBody['user'] {
	const none = { email: null, phone: null, externalId: null };
	if (value === undefined) {
		return Object.freeze(none);
	}
	if (!isRecord(value)) {
		problems.push(`/user: must be an object, got ${kind(value)}`);
		return Object.freeze(none);
	}
	for (const key of Object.keys(value)) {
		if (!['email', 'phone', 'externalId'].includes(key)) {
			problems.push(
				`/user: unknown key ${JSON.stringify(key.slice(0, 60))}; allowed: email, phone, externalId`
			);
		}
	}
	let email: string | null = null;
	if (value['email'] !== undefined) {
		email = text(problems, '/user/email', value['email'], 254);
		if (email !== null && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email.trim())) {
			problems.push('/user/email: must be an email address');
			email = null;
		}
	}
	let phone: string | null = null;
	if (value['phone'] !== undefined) {
		phone = text(problems, '/user/phone', value['phone'], 32);
		if (phone !== null && !PHONE.test(phone.trim())) {
			problems.push(
				'/user/phone: must be in international format: + or 00, the country code and the number'
			);
			phone = null;
		}
	}
	const externalId =
		value['externalId'] === undefined
			? null
			: text(problems, '/user/externalId', value['externalId'], 256);
	return Object.freeze({ email, phone, externalId });
}

/** Checks a parsed JSON body; every problem is reported at once. */
export function parseEventBody(json: unknown): Parsed<EventBody> {
	if (!isRecord(json)) {
		return {
			ok: false,
			problems: [`/: the body must be a JSON object, got ${kind(json)}`],
		};
	}
	const problems: string[] = [];
	const known = ['event', 'eventId', 'subjectId', 'url', 'properties', 'user'];
	for (const key of Object.keys(json)) {
		if (!known.includes(key)) {
			problems.push(
				`/: unknown key ${JSON.stringify(key.slice(0, 60))}; allowed: ${known.join(', ')}`
			);
		}
	}
	let event: string | null = null;
	if (json['event'] === undefined) {
		problems.push(
			`/event: is required: one of ${STANDARD_EVENTS.join(', ')} or a custom name`
		);
	} else if (
		typeof json['event'] !== 'string' ||
		!NAME_PATTERN.test(json['event'])
	) {
		problems.push(
			`/event: must be one of ${STANDARD_EVENTS.join(', ')} or a custom name (a letter, then letters, digits or _, at most 40)`
		);
	} else {
		event = json['event'];
	}
	const eventId =
		json['eventId'] === undefined
			? null
			: text(problems, '/eventId', json['eventId'], 128);
	let subjectId: string | null = null;
	if (json['subjectId'] !== undefined) {
		if (
			typeof json['subjectId'] !== 'string' ||
			!SUBJECT_ID.test(json['subjectId'])
		) {
			problems.push(
				"/subjectId: must be a c15t subject id (sub_ and base58 characters, as c15t's `c15t` cookie holds)"
			);
		} else {
			subjectId = json['subjectId'];
		}
	}
	const url =
		json['url'] === undefined ? null : checkUrl(problems, json['url']);
	const properties = checkProperties(problems, json['properties']);
	const user = checkUser(problems, json['user']);
	if (problems.length > 0 || event === null) {
		return { ok: false, problems };
	}
	return {
		ok: true,
		value: Object.freeze({ event, eventId, subjectId, url, properties, user }),
	};
}

/** The standard event a name is, if it is one. */
export function standardEvent(name: string): StandardEvent | null {
	return (STANDARD_EVENTS as readonly string[]).includes(name)
		? (name as StandardEvent)
		: null;
}
