/**
 * @c15t/destinations, server runtime: the destination factories of the control plane's
 * catalogue and the handler of the destinations' routes. Runs in workerd; standard web
 * APIs only.
 *
 * @packageDocumentation
 */

export * from './factories.ts';
export { createAnalyticsHandler } from './server/handler.ts';
