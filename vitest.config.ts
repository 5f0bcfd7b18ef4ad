import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

// One graphql-js for everything: Apollo (loaded by Node) requires the CommonJS build, so the
// sources under test must get the same file, or two GraphQLError classes exist side by side.
const graphqlMain = createRequire(import.meta.url).resolve('graphql');

export default defineConfig({
  resolve: { alias: [{ find: /^graphql$/, replacement: graphqlMain }] },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    globalSetup: ['./test/support/global-setup.ts'],
    reporters: ['default', './test/support/plain-count-reporter.ts'],
  },
});
