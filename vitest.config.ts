import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Integration tests start real servers on loopback; keep them from starving each other on 2 cores.
    testTimeout: 20_000,
    // Two files at once, not one (the default on 2 cores: cores - 1): most of a file's time is
    // spent waiting on sockets and child processes, so the suite takes 256 s instead of 453 s here.
    maxWorkers: 2,
    hookTimeout: 20_000,
  },
});
