// Migrates a libSQL database to @c15t/backend's latest schema with c15t's own migrator, connecting
// as a generated worker does (Kysely with @libsql/kysely-libsql over HTTP).
// Usage: node c15t-migrate.mjs <url> <auth token>
import { kyselyAdapter } from '@c15t/backend/db/adapters/kysely';
import { migrator } from '@c15t/backend/db/migrator';
import { DB } from '@c15t/backend/db/schema';
import { LibsqlDialect } from '@libsql/kysely-libsql';
import { Kysely } from 'kysely';

const [url, authToken] = process.argv.slice(2);
if (!url || authToken === undefined) {
	console.error('usage: node c15t-migrate.mjs <url> <auth token>');
	process.exit(2);
}

const kysely = new Kysely({ dialect: new LibsqlDialect({ url, authToken }) });
try {
	// The database instance c15tInstance builds from its adapter (`DB.client(adapter)`).
	const db = DB.client(kyselyAdapter({ db: kysely, provider: 'sqlite' }));
	const result = await migrator({ db, schema: 'latest' });
	if (typeof result.execute !== 'function') {
		throw new Error(`the migrator returned no migration: ${JSON.stringify(result)}`);
	}
	await result.execute();
	console.log(
		JSON.stringify({
			operations: result.operations.length,
			version: await db.version(),
		})
	);
} finally {
	await kysely.destroy();
}
