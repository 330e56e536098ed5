// Descriptor -> the real @c15t/scripts Script, in Node, as the browser module does it:
// `import { <function> } from '@c15t/scripts/<vendor>'`, called with the descriptor's
// options, then the destination's id and configured category.

/** Builds the c15t `Script` of one descriptor with the real vendor function. */
export async function scriptOf(descriptor) {
	const module = await import(`@c15t/scripts/${descriptor.vendor}`);
	const fn = module[descriptor.function];
	if (typeof fn !== 'function') {
		throw new Error(
			`@c15t/scripts/${descriptor.vendor} has no function ${descriptor.function}`
		);
	}
	const script = fn(structuredClone(descriptor.options));
	script.id = descriptor.id;
	script.category = descriptor.category;
	return script;
}

/**
 * The serialisable fields of a Script (no callbacks), plus which callbacks it has;
 * `alwaysLoad` and `persistAfterConsentRevoked` always, as booleans.
 */
export function serialise(script) {
	const out = {
		id: script.id,
		alwaysLoad: script.alwaysLoad === true,
		persistAfterConsentRevoked: script.persistAfterConsentRevoked === true,
	};
	for (const [key, value] of Object.entries(script)) {
		if (value === undefined || key in out) {
			continue;
		}
		if (typeof value === 'function') {
			out.callbacks ??= [];
			out.callbacks.push(key);
		} else {
			out[key] = value;
		}
	}
	out.callbacks?.sort();
	return out;
}

/** Every string reachable from a value (functions' own properties included), cycle-safe. */
function strings(value, seen = new Set(), out = []) {
	if (typeof value === 'string') {
		out.push(value);
	} else if (typeof value === 'number' || typeof value === 'boolean') {
		out.push(String(value));
	} else if (
		(typeof value === 'object' || typeof value === 'function') &&
		value !== null &&
		!seen.has(value)
	) {
		seen.add(value);
		for (const key of Reflect.ownKeys(value)) {
			if (typeof key === 'string') {
				out.push(key);
				const descriptor = Object.getOwnPropertyDescriptor(value, key);
				if (descriptor && 'value' in descriptor) {
					strings(descriptor.value, seen, out);
				}
			}
		}
	}
	return out;
}

/**
 * A stand-in for a vendor library once its script has loaded: any property is another
 * recorder, and calling or constructing one records the arguments in `calls`.
 */
function recorder(calls, name) {
	const members = new Map();
	const target = function () {};
	return new Proxy(target, {
		apply(_target, _this, args) {
			calls.push([name, ...args]);
			return undefined;
		},
		construct(_target, args) {
			calls.push([`new ${name}`, ...args]);
			return recorder(calls, `${name}()`);
		},
		get(_target, key) {
			if (typeof key !== 'string') {
				return undefined;
			}
			if (!members.has(key)) {
				members.set(key, recorder(calls, `${name}.${key}`));
			}
			return members.get(key);
		},
	});
}

/**
 * What a page would hand the vendor: the script's src, attributes and inline text, and what
 * its lifecycle callbacks put on `window` (run against a bare object standing in for it),
 * as one list of strings.
 */
export function vendorInputs(script) {
	const saved = Object.getOwnPropertyDescriptor(globalThis, 'window');
	const fakeWindow = {};
	Object.defineProperty(globalThis, 'window', {
		value: fakeWindow,
		configurable: true,
		writable: true,
	});
	const info = {
		id: script.id,
		elementId: `c15t-${script.id}`,
		hasConsent: true,
		consents: {
			necessary: true,
			functionality: true,
			measurement: true,
			experience: true,
			marketing: true,
		},
	};
	const errors = [];
	const calls = [];
	const run = (callback) => {
		try {
			script[callback]?.(info);
		} catch (error) {
			errors.push(`${callback}: ${error.message}`);
		}
	};
	try {
		// Before the vendor's script: stubs and queues on a bare window.
		run('onBeforeLoad');
		// After it: the vendor's globals exist (recorders stand in for the ones not stubbed).
		window = new Proxy(fakeWindow, {
			get(target, key) {
				if (
					typeof key === 'string' &&
					!key.startsWith('__') &&
					!(key in target)
				) {
					target[key] = recorder(calls, key);
				}
				return target[key];
			},
		});
		run('onLoad');
		run('onConsentChange');
	} finally {
		if (saved) {
			Object.defineProperty(globalThis, 'window', saved);
		} else {
			delete globalThis.window;
		}
	}
	return {
		inputs: [
			script.src ?? '',
			script.textContent ?? '',
			...strings(script.attributes ?? {}),
			...strings(fakeWindow),
			...strings(calls),
		],
		errors,
	};
}
