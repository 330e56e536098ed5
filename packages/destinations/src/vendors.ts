/**
 * The `@c15t/scripts` functions the browser module can call, by module subpath and export
 * name: exactly one entry per (`vendor`, `function`) pair of `catalogue.json` (the tests
 * fail on a missing or a stale entry). Static imports, so the bundle holds only these.
 *
 * @packageDocumentation
 */

import { adobeAnalytics } from '@c15t/scripts/adobe-analytics';
import { ahrefsAnalytics } from '@c15t/scripts/ahrefs-analytics';
import { amplitude } from '@c15t/scripts/amplitude';
import { clearbit } from '@c15t/scripts/clearbit';
import { cloudflareWebAnalytics } from '@c15t/scripts/cloudflare-web-analytics';
import { crisp } from '@c15t/scripts/crisp';
import { databuddy } from '@c15t/scripts/databuddy';
import { fathomAnalytics } from '@c15t/scripts/fathom-analytics';
import { gtag } from '@c15t/scripts/google-tag';
import { googleTagManager } from '@c15t/scripts/google-tag-manager';
import { heap } from '@c15t/scripts/heap';
import { hightouch } from '@c15t/scripts/hightouch';
import { hotjar } from '@c15t/scripts/hotjar';
import { intercom } from '@c15t/scripts/intercom';
import { linkedinInsights } from '@c15t/scripts/linkedin-insights';
import { logRocket } from '@c15t/scripts/logrocket';
import { matomoAnalytics } from '@c15t/scripts/matomo-analytics';
import { metaPixel } from '@c15t/scripts/meta-pixel';
import { clarity } from '@c15t/scripts/microsoft-clarity';
import { microsoftUet } from '@c15t/scripts/microsoft-uet';
import { mixpanelAnalytics } from '@c15t/scripts/mixpanel-analytics';
import { pirsch } from '@c15t/scripts/pirsch';
import { plausibleAnalytics } from '@c15t/scripts/plausible-analytics';
import { posthog } from '@c15t/scripts/posthog';
import { promptwatch } from '@c15t/scripts/promptwatch';
import { redditPixel } from '@c15t/scripts/reddit-pixel';
import { rudderstack } from '@c15t/scripts/rudderstack';
import { rybbitAnalytics } from '@c15t/scripts/rybbit-analytics';
import { segment } from '@c15t/scripts/segment';
import { snapchatPixel } from '@c15t/scripts/snapchat-pixel';
import { tiktokPixel } from '@c15t/scripts/tiktok-pixel';
import { umamiAnalytics } from '@c15t/scripts/umami-analytics';
import { xPixel } from '@c15t/scripts/x-pixel';
import type { Script } from 'c15t';

/**
 * A vendor function, taking its options as the descriptor carries them. The server
 * builds them from the catalogue's option map, so the parameter is not typed here.
 */
export type VendorFunction = (options: never) => Script;

export const vendors: Readonly<
	Record<string, Readonly<Record<string, VendorFunction>>>
> = Object.freeze({
	'adobe-analytics': Object.freeze({ adobeAnalytics }),
	'ahrefs-analytics': Object.freeze({ ahrefsAnalytics }),
	amplitude: Object.freeze({ amplitude }),
	clearbit: Object.freeze({ clearbit }),
	'cloudflare-web-analytics': Object.freeze({ cloudflareWebAnalytics }),
	crisp: Object.freeze({ crisp }),
	databuddy: Object.freeze({ databuddy }),
	'fathom-analytics': Object.freeze({ fathomAnalytics }),
	'google-tag': Object.freeze({ gtag }),
	'google-tag-manager': Object.freeze({ googleTagManager }),
	heap: Object.freeze({ heap }),
	hightouch: Object.freeze({ hightouch }),
	hotjar: Object.freeze({ hotjar }),
	intercom: Object.freeze({ intercom }),
	'linkedin-insights': Object.freeze({ linkedinInsights }),
	logrocket: Object.freeze({ logRocket }),
	'matomo-analytics': Object.freeze({ matomoAnalytics }),
	'meta-pixel': Object.freeze({ metaPixel }),
	'microsoft-clarity': Object.freeze({ clarity }),
	'microsoft-uet': Object.freeze({ microsoftUet }),
	'mixpanel-analytics': Object.freeze({ mixpanelAnalytics }),
	pirsch: Object.freeze({ pirsch }),
	'plausible-analytics': Object.freeze({ plausibleAnalytics }),
	posthog: Object.freeze({ posthog }),
	promptwatch: Object.freeze({ promptwatch }),
	'reddit-pixel': Object.freeze({ redditPixel }),
	rudderstack: Object.freeze({ rudderstack }),
	'rybbit-analytics': Object.freeze({ rybbitAnalytics }),
	segment: Object.freeze({ segment }),
	'snapchat-pixel': Object.freeze({ snapchatPixel }),
	'tiktok-pixel': Object.freeze({ tiktokPixel }),
	'umami-analytics': Object.freeze({ umamiAnalytics }),
	'x-pixel': Object.freeze({ xPixel }),
});
