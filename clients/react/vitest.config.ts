import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.tsx"],
    environment: "jsdom",
    // Every test talks to a real Coffer; a slow CI machine answers within seconds, never minutes.
    testTimeout: 30_000,
    fileParallelism: true,
  },
});
