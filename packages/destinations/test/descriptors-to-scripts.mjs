#!/usr/bin/env node
// Reads `{"scripts": [ScriptDescriptor, ...]}` (a worker's GET {basePath}/scripts answer)
// on stdin, builds each c15t Script with the real @c15t/scripts function, and prints a
// JSON array of their serialisable fields (id, src, category, alwaysLoad,
// persistAfterConsentRevoked, attributes, ..., and the names of their callbacks).
//
//   curl -s https://<worker>/analytics/scripts | node test/descriptors-to-scripts.mjs

import { text } from 'node:stream/consumers';
import { scriptOf, serialise } from './scripts.mjs';

const input = JSON.parse(await text(process.stdin));
if (!Array.isArray(input?.scripts)) {
	console.error('expected {"scripts": [...]} on stdin');
	process.exit(2);
}
const out = [];
for (const descriptor of input.scripts) {
	out.push(serialise(await scriptOf(descriptor)));
}
process.stdout.write(`${JSON.stringify(out, null, '\t')}\n`);
