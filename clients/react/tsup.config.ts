import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm"],
  target: "es2022",
  platform: "neutral",
  dts: true,
  sourcemap: true,
  clean: true,
  // Peers and the client stay imports: the app brings one React, one QueryClient and one @coffer/client.
  external: ["react", "react/jsx-runtime", "@tanstack/react-query", "@coffer/client"],
});
