// Projects: `unit` and `property` need no server and start no process;
// `cli` runs the real executable as a child process (no XMPP server);
// `differential` runs the server's own code (Lua modules, libexpat) but starts
// no server; `proxy` runs privguard in-process against in-process fakes
// (test/support); `e2e` (and fuzz) start real servers and install the global
// setup that checks they are installed.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      { extends: true, test: { name: 'property', include: ['test/property/**/*.test.ts'] } },
      { extends: true, test: { name: 'cli', include: ['test/cli/**/*.test.ts'] } },
      { extends: true, test: { name: 'proxy', include: ['test/proxy/**/*.test.ts', 'test/fuzz/**/*.test.ts'] } },
      // Against the server's own code (Prosody's util.encodings, libexpat): needs lua5.4 and Prosody, no running server.
      { extends: true, test: { name: 'differential', include: ['test/differential/**/*.test.ts'] } },
      { extends: true, test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], globalSetup: ['test/e2e/harness/global-setup.ts'] } },
    ],
  },
});
