import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Every test talks to a real Coffer; a slow CI machine answers within seconds, never minutes.
    testTimeout: 30_000,
    // The tests share one server and one tenant but no data, so files may run side by side.
    fileParallelism: true,
  },
});
