/**
 * What every vendor's server API module provides: the request one event becomes, and how
 * the vendor's answer is read.
 *
 * @packageDocumentation
 */

import type { OutboundEvent } from '../event.ts';

/** One HTTP request to a vendor (always a POST). */
export interface VendorRequest {
	readonly url: string;
	readonly headers: Readonly<Record<string, string>>;
	readonly body: string;
}

export interface SendContext {
	/** `?debug=1`: the vendor's test or validation mode where it has one. */
	readonly debug: boolean;
	/**
	 * The base URL of a vendor's API: the worker var `C15T_ENDPOINT_<NAME>` when set (tests
	 * point it at fakes), otherwise `fallback` (the vendor's, or the destination's own host).
	 */
	base(name: string, fallback: string): string;
}

/** How a vendor answered. */
export type Verdict =
	| { readonly ok: true; readonly message?: string }
	| { readonly ok: false; readonly retry: boolean; readonly message: string };

export type Settings = Readonly<Record<string, unknown>>;

export interface EventSender {
	/** The API's name, e.g. `Meta Conversions API`. */
	readonly api: string;
	/** The `<NAME>` of its `C15T_ENDPOINT_<NAME>` override. */
	readonly endpoint: string;
	/** Why a destination with these settings cannot send server events, or null. */
	missing(settings: Settings): string | null;
	/**
	 * The request an event becomes, `{ skip }` with the reason when this vendor cannot take
	 * it, or null when the destination's settings lack what the API needs.
	 */
	request(
		settings: Settings,
		event: OutboundEvent,
		context: SendContext
	): VendorRequest | { readonly skip: string } | null;
	/** Reads an answer; without it, 2xx is success and 429 or 5xx is worth a retry. */
	verdict?(status: number, body: string): Verdict;
}

/** A string setting, or undefined when unset or empty. */
export function setting(settings: Settings, key: string): string | undefined {
	const value = settings[key];
	if (typeof value === 'number') {
		return String(value);
	}
	return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

/** The standard verdict: 2xx succeeds, 408, 429 and 5xx may succeed later. */
export function httpVerdict(status: number, body: string): Verdict {
	if (status >= 200 && status < 300) {
		return { ok: true };
	}
	return {
		ok: false,
		retry: status === 408 || status === 429 || status >= 500,
		message: `answered ${status}${body.trim() === '' ? '' : `: ${body.trim().slice(0, 300)}`}`,
	};
}

export const JSON_HEADERS: Readonly<Record<string, string>> = Object.freeze({
	'Content-Type': 'application/json',
});

/** `base` and `path` joined with one slash. */
export function join(base: string, path: string): string {
	return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

/** Reads a JSON body, or undefined. */
export function jsonOf(body: string): unknown {
	try {
		return JSON.parse(body);
	} catch {
		return undefined;
	}
}

export function isRecord(value: unknown): value is Record<string, unknown> {
	return typeof value === 'object' && value !== null && !Array.isArray(value);
}
