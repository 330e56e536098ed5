/** The browser module (`src/client.ts` bundled and minified), embedded by `build.mjs`. */
declare module 'c15t-destinations:client' {
	const source: string;
	export default source;
}
