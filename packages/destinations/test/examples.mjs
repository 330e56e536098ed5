// Realistic settings per catalogue kind (the shapes of crates/model/src/catalogue.rs's
// patterns and tests), and the exact URL the real @c15t/scripts function must load for
// them. Every kind of src/catalogue.json needs an entry: a kind without one fails the tests.
// Settings the catalogue does not send to browsers (secrets, test codes) are added by the
// tests as CANARY values; list only what a browser may get here.

export const EXAMPLES = {
	'meta-pixel': {
		settings: { pixelId: '123456789012345' },
		src: 'https://connect.facebook.net/en_US/fbevents.js',
	},
	'google-analytics': {
		settings: { measurementId: 'G-ABC123XYZ' },
		src: 'https://www.googletagmanager.com/gtag/js?id=G-ABC123XYZ',
	},
	posthog: {
		settings: { apiKey: 'phc_abc12345XYZ', host: 'https://us.i.posthog.com' },
		src: 'https://us-assets.i.posthog.com/static/array.js',
	},
	'google-tag-manager': {
		settings: { containerId: 'GTM-5XKQ9RZ' },
		src: 'https://www.googletagmanager.com/gtm.js?id=GTM-5XKQ9RZ',
	},
	'tiktok-pixel': {
		settings: { pixelId: 'C4D45N9U9OSI64ECRUG0' },
		src: 'https://analytics.tiktok.com/i18n/pixel/events.js?sdkid=C4D45N9U9OSI64ECRUG0&lib=ttq',
	},
	'linkedin-insight': {
		settings: { partnerId: '2503796' },
		src: 'https://snap.licdn.com/li.lms-analytics/insight.min.js',
	},
	mixpanel: {
		settings: {
			token: '1234567890abcdef1234567890abcdef',
			apiHost: 'https://api-eu.mixpanel.com',
		},
		src: 'https://cdn.mxpnl.com/libs/mixpanel-2-latest.min.js',
	},
	amplitude: {
		settings: { apiKey: 'd6b0c5838f2848aeb5f090043e673d4e', serverZone: 'EU' },
		src: 'https://cdn.amplitude.com/libs/analytics-browser-2.44.4-min.js.gz',
	},
	segment: {
		settings: { writeKey: 'uujaytBec0IKw7feQ5OWz4LtxHlNceya' },
		src: 'https://cdn.segment.com/analytics.js/v1/uujaytBec0IKw7feQ5OWz4LtxHlNceya/analytics.min.js',
	},
	plausible: {
		settings: { domain: 'example.com' },
		src: 'https://plausible.io/js/script.js',
	},
	'microsoft-clarity': {
		settings: { projectId: 'i1vb08zics' },
		src: 'https://www.clarity.ms/tag/i1vb08zics',
	},
	'x-pixel': {
		settings: { pixelId: 'nyl43' },
		src: 'https://static.ads-twitter.com/uwt.js',
	},
	'reddit-pixel': {
		settings: { pixelId: 'a2_hz77nm0joupm' },
		src: 'https://www.redditstatic.com/ads/pixel.js',
	},
	'snapchat-pixel': {
		settings: { pixelId: 'cf38dbeb-49ab-4061-afde-b1354f90975a' },
		src: 'https://sc-static.net/scevent.min.js',
	},
	'microsoft-uet': {
		settings: { tagId: '187093698' },
		// Protocol-relative, as @c15t/scripts writes it.
		src: '//bat.bing.com/bat.js',
	},
	hotjar: {
		settings: { siteId: '1234567' },
		src: 'https://static.hotjar.com/c/hotjar-1234567.js?sv=6',
	},
	umami: {
		settings: { websiteId: 'ec33da65-f286-4a0a-94de-f8f3aadc5a2c' },
		src: 'https://cloud.umami.is/script.js',
	},
	matomo: {
		settings: { matomoUrl: 'https://analytics.example.com', siteId: 3 },
		src: 'https://analytics.example.com/matomo.js',
	},
	fathom: {
		settings: { siteId: 'NMHGBIOO' },
		src: 'https://cdn.usefathom.com/script.js',
	},
	'cloudflare-web-analytics': {
		settings: { token: '4c5f0c3d3e5a4d1ba0d2d9f0a0f0a0f0' },
		src: 'https://static.cloudflareinsights.com/beacon.min.js',
	},
	'adobe-analytics': {
		settings: {
			scriptUrl:
				'https://assets.adobedtm.com/1a2b3c4d5e6f/7a8b9c0d1e2f/launch-3a4b5c6d7e8f.min.js',
		},
		src: 'https://assets.adobedtm.com/1a2b3c4d5e6f/7a8b9c0d1e2f/launch-3a4b5c6d7e8f.min.js',
	},
	ahrefs: {
		settings: { key: 'fd3eKSs6Vl2RPsjSJNgIog' },
		src: 'https://analytics.ahrefs.com/analytics.js',
	},
	clearbit: {
		settings: { publishableKey: 'pk_3f1b2c4d5e6f7a8b9c0d1e2f3a4b' },
		src: 'https://tag.clearbitscripts.com/v1/pk_3f1b2c4d5e6f7a8b9c0d1e2f3a4b/tags.js',
	},
	databuddy: {
		settings: { clientId: 'OXmNQsViBT-FOS_wZCTHc' },
		src: 'https://cdn.databuddy.cc/databuddy.js',
	},
	heap: {
		settings: { envId: '1535634150' },
		src: 'https://cdn.us.heap-api.com/config/1535634150/heap_config.js',
	},
	hightouch: {
		settings: {
			writeKey: 'a8e6c1f0b1c94d0e9f7a2b3c4d5e6f70',
			apiHost: 'us-east-1.hightouch-events.com',
		},
		src: 'https://cdn.hightouch-events.com/browser/release/v1-latest/events.min.js',
	},
	logrocket: {
		settings: { appId: '9cf0rr/herodevs-website' },
		src: 'https://cdn.logrocket.io/LogRocket.min.js',
	},
	pirsch: {
		settings: { identificationCode: 'Xq9c3Ru1hV7bA2kL5mN8pT4wY6zE0sDf' },
		src: 'https://api.pirsch.io/pa.js',
	},
	promptwatch: {
		settings: { projectId: '6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f' },
		src: 'https://ingest.promptwatch.com/js/client.min.js',
	},
	rudderstack: {
		settings: {
			writeKey: '1Qb1F3jSWv0eKFBPZcrM7ypgjVo',
			dataPlaneUrl: 'https://hosted.rudderlabs.com',
		},
		src: 'https://cdn.rudderlabs.com/v3/modern/rsa.min.js',
	},
	rybbit: {
		settings: { siteId: '123' },
		src: 'https://app.rybbit.io/api/script.js',
	},
	crisp: {
		settings: { websiteId: 'e987cede-c42d-4c32-8cf3-1a4a074abd73' },
		src: 'https://client.crisp.chat/l.js',
	},
	intercom: {
		settings: { appId: 'u6ljgpqe' },
		src: 'https://widget.intercom.io/widget/u6ljgpqe',
	},
};
