/**
 * The server API of each catalogue kind that has one, by slug. `catalogue.json` says which
 * kinds have one (`events`); the tests keep the two in step.
 *
 * @packageDocumentation
 */

import {
	linkedinConversions,
	metaConversions,
	redditConversions,
	snapchatConversions,
	tiktokEvents,
} from './ads.ts';
import { ga4MeasurementProtocol } from './google.ts';
import {
	amplitudeHttp,
	hightouchHttp,
	mixpanelIngestion,
	posthogCapture,
	rudderstackHttp,
	segmentTracking,
} from './product.ts';
import type { EventSender } from './types.ts';
import { matomoTracking, plausibleEvents, umamiSend } from './web.ts';

export const SENDERS: ReadonlyMap<string, EventSender> = new Map([
	['meta-pixel', metaConversions],
	['google-analytics', ga4MeasurementProtocol],
	['tiktok-pixel', tiktokEvents],
	['linkedin-insight', linkedinConversions],
	['reddit-pixel', redditConversions],
	['snapchat-pixel', snapchatConversions],
	['posthog', posthogCapture],
	['mixpanel', mixpanelIngestion],
	['amplitude', amplitudeHttp],
	['segment', segmentTracking],
	['rudderstack', rudderstackHttp],
	['hightouch', hightouchHttp],
	['plausible', plausibleEvents],
	['umami', umamiSend],
	['matomo', matomoTracking],
]);
