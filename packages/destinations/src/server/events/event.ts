/**
 * The event as vendors get it: the checked body, what the request says about the visitor,
 * the identifiers hashed, and the purposes c15t says the subject granted.
 *
 * @packageDocumentation
 */

import type { ConsentCategory } from '@c15t/destinations';
import {
	type EventBody,
	type PropertyValue,
	type StandardEvent,
	standardEvent,
} from './body.ts';

/** Identifiers, hashed as the vendors require: lower-case hex SHA-256, never plain text. */
export interface HashedUser {
	/** SHA-256 of the email trimmed and lower-cased. */
	readonly email: string | null;
	/** SHA-256 of the phone's digits with the country code and no `+` (Meta, Snapchat, Reddit). */
	readonly phoneDigits: string | null;
	/** SHA-256 of the phone in E.164 (`+` and digits: TikTok, Google). */
	readonly phoneE164: string | null;
	/** SHA-256 of the external id. */
	readonly externalId: string | null;
}

export interface OutboundEvent {
	/** The name as the caller sent it. */
	readonly name: string;
	/** The common vocabulary's name, or null for a custom event. */
	readonly standard: StandardEvent | null;
	readonly eventId: string;
	readonly subjectId: string;
	/** 16 hex digits derived from the subject id (Matomo's visitor id format). */
	readonly visitorId: string;
	/** Milliseconds since the epoch, when the worker received the event. */
	readonly time: number;
	readonly url: string | null;
	readonly referrer: string | null;
	readonly properties: Readonly<Record<string, PropertyValue>>;
	readonly ip: string | null;
	readonly userAgent: string | null;
	/** The caller's own user id, for analytics vendors that identify people by it. */
	readonly externalId: string | null;
	readonly hashed: HashedUser;
	/** Purposes the subject granted, as c15t recorded them. */
	readonly granted: ReadonlySet<ConsentCategory>;
	/** Cookies of the request (vendors' own click ids and client ids). */
	readonly cookies: ReadonlyMap<string, string>;
}

const encoder = new TextEncoder();

export async function sha256(text: string): Promise<string> {
	const digest = new Uint8Array(
		await crypto.subtle.digest('SHA-256', encoder.encode(text))
	);
	let hex = '';
	for (const byte of digest) {
		hex += byte.toString(16).padStart(2, '0');
	}
	return hex;
}

/** The phone's digits with the country code: `+44 20 7946 0958` and `0044...` -> `442079460958`. */
export function phoneDigits(phone: string): string {
	const digits = phone.replace(/[^0-9]/g, '');
	return phone.trim().startsWith('00') ? digits.slice(2) : digits;
}

export async function hashUser(user: EventBody['user']): Promise<HashedUser> {
	const email =
		user.email === null ? null : await sha256(user.email.trim().toLowerCase());
	const digits = user.phone === null ? null : phoneDigits(user.phone);
	return Object.freeze({
		email,
		phoneDigits: digits === null ? null : await sha256(digits),
		phoneE164: digits === null ? null : await sha256(`+${digits}`),
		externalId:
			user.externalId === null ? null : await sha256(user.externalId.trim()),
	});
}

export function parseCookies(
	header: string | null
): ReadonlyMap<string, string> {
	const cookies = new Map<string, string>();
	if (header === null) {
		return cookies;
	}
	for (const part of header.split(';')) {
		const at = part.indexOf('=');
		if (at > 0) {
			const name = part.slice(0, at).trim();
			if (!cookies.has(name)) {
				cookies.set(name, part.slice(at + 1).trim());
			}
		}
	}
	return cookies;
}

export interface RequestFacts {
	readonly ip: string | null;
	readonly userAgent: string | null;
	readonly referrer: string | null;
	readonly cookies: ReadonlyMap<string, string>;
}

/** What the request itself says about the visitor (Cloudflare sets `CF-Connecting-IP`). */
export function requestFacts(request: Request): RequestFacts {
	const header = (name: string): string | null => {
		const value = request.headers.get(name);
		return value === null || value.trim() === '' ? null : value.trim();
	};
	return {
		ip: header('CF-Connecting-IP'),
		userAgent: header('User-Agent'),
		referrer: header('Referer'),
		cookies: parseCookies(request.headers.get('Cookie')),
	};
}

export async function outboundEvent(
	body: EventBody,
	subjectId: string,
	facts: RequestFacts,
	granted: ReadonlySet<ConsentCategory>,
	now: number
): Promise<OutboundEvent> {
	return Object.freeze({
		name: body.event,
		standard: standardEvent(body.event),
		eventId: body.eventId ?? crypto.randomUUID(),
		subjectId,
		visitorId: (await sha256(subjectId)).slice(0, 16),
		time: now,
		url: body.url ?? facts.referrer,
		referrer: facts.referrer,
		properties: body.properties,
		ip: facts.ip,
		userAgent: facts.userAgent,
		externalId: body.user.externalId,
		hashed: await hashUser(body.user),
		granted,
		cookies: facts.cookies,
	});
}

/** A number property, if it is one. */
export function numberOf(
	event: OutboundEvent,
	key: string
): number | undefined {
	const value = event.properties[key];
	return typeof value === 'number' ? value : undefined;
}

/** A string property, if it is one. */
export function stringOf(
	event: OutboundEvent,
	key: string
): string | undefined {
	const value = event.properties[key];
	return typeof value === 'string' ? value : undefined;
}

/** A list-of-strings property, if it is one. */
export function listOf(
	event: OutboundEvent,
	key: string
): readonly string[] | undefined {
	const value = event.properties[key];
	return Array.isArray(value) ? (value as readonly string[]) : undefined;
}

/** The properties other than the common ones (`value`, `currency`, ...), for custom data. */
export function customProperties(
	event: OutboundEvent
): Record<string, PropertyValue> {
	const common = new Set([
		'value',
		'currency',
		'contentIds',
		'contentType',
		'contentName',
		'orderId',
		'numItems',
	]);
	const rest: Record<string, PropertyValue> = {};
	for (const [key, value] of Object.entries(event.properties)) {
		if (!common.has(key)) {
			rest[key] = value;
		}
	}
	return rest;
}

/** Drops `undefined` and `null` members, so vendors never get empty fields. */
export function compact<T extends Record<string, unknown>>(
	object: T
): Partial<T> {
	const out: Record<string, unknown> = {};
	for (const [key, value] of Object.entries(object)) {
		if (value !== undefined && value !== null) {
			out[key] = value;
		}
	}
	return out as Partial<T>;
}
