import { defineConfig } from 'drizzle-kit';

// `npm run db:generate` turns changes to db/schema.ts into a checked-in SQL migration under migrations/.
export default defineConfig({
  dialect: 'postgresql',
  schema: './db/schema.ts',
  out: './migrations',
  schemaFilter: ['flywheel'],
  migrations: { schema: 'flywheel', table: 'migrations' },
});
