/**
 * Which origins may read the routes (CORS), with the semantics of c15t's own backend:
 * a port of `isOriginTrusted` from `packages/backend/src/middleware/cors/is-origin-trusted.ts`
 * of c15t (Apache-2.0, https://github.com/c15t/c15t), so a site trusted by the worker's
 * c15t backend is trusted here too, and no other.
 *
 * - `*` trusts every origin; an empty list trusts none.
 * - An entry may carry a scheme (`https://example.com`) or not (https is assumed to parse
 *   it); the scheme is not compared, hostnames are, case-insensitively.
 * - `example.com` and `www.example.com` are the same site; `*.example.com` matches strict
 *   subdomains only (not `example.com` itself).
 * - A port written in an entry must match the origin's (default ports resolved from its
 *   scheme); an entry without one matches every port.
 *
 * @packageDocumentation
 */

const WWW_REGEX = /^www\./;
const PROTOCOL_REGEX = /^[a-z][a-z\d+.-]*:\/\//i;
const DEFAULT_PORTS: Readonly<Record<string, string>> = {
	'http:': '80',
	'https:': '443',
	'ws:': '80',
	'wss:': '443',
};

interface TrustedDomain {
	readonly hostname: string;
	readonly port: string | undefined;
}

function extractExplicitPort(authority: string): string | undefined {
	const ipv6 = authority.match(/^\[[^\]]+\](?::(\d+))?$/);
	if (ipv6) {
		return ipv6[1] || undefined;
	}
	const match = authority.match(/:(\d+)$/);
	return match ? match[1] : undefined;
}

function normalizeTrustedDomain(domain: string): TrustedDomain | null {
	const trimmed = domain.trim();
	if (!trimmed) {
		return null;
	}
	const hasProtocol = PROTOCOL_REGEX.test(trimmed);
	const withoutProtocol = trimmed.replace(PROTOCOL_REGEX, '');
	const authority = withoutProtocol.split(/[/?#]/)[0] ?? '';
	try {
		const parsed = new URL(hasProtocol ? trimmed : `https://${authority}`);
		return {
			hostname: parsed.hostname.toLowerCase(),
			port: extractExplicitPort(authority),
		};
	} catch {
		return null;
	}
}

function matchesWildcard(hostname: string, pattern: string): boolean {
	const domain = pattern.slice(2);
	return hostname !== domain && hostname.endsWith(`.${domain}`);
}

/**
 * A matcher for a fixed list of trusted origins; the list is normalised once.
 *
 * @returns a function telling whether a request's `Origin` is trusted.
 */
export function originMatcher(
	trustedOrigins: readonly string[]
): (origin: string) => boolean {
	if (trustedOrigins.includes('*')) {
		return () => true;
	}
	const domains = trustedOrigins
		.map((domain) => normalizeTrustedDomain(domain))
		.filter((domain): domain is TrustedDomain => domain !== null);
	if (domains.length === 0) {
		return () => false;
	}
	return (origin) => {
		let url: URL;
		try {
			url = new URL(origin);
		} catch {
			return false;
		}
		const hostname = url.hostname.toLowerCase();
		const port = url.port || DEFAULT_PORTS[url.protocol] || undefined;
		return domains.some((domain) => {
			if (domain.port !== undefined && domain.port !== port) {
				return false;
			}
			if (domain.hostname.startsWith('*.')) {
				return matchesWildcard(hostname, domain.hostname);
			}
			return (
				hostname.replace(WWW_REGEX, '') ===
				domain.hostname.replace(WWW_REGEX, '')
			);
		});
	};
}
