import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  plugins: [react()],
  // Relative asset paths, so the built app works from whatever path the merchant's server puts it under.
  base: "./",
  resolve: {
    // @coffer/react is linked from ../../clients, where its own dev copies of React and TanStack Query live;
    // the page must use one React, one QueryClient context and one CofferError class (`instanceof`): this app's.
    dedupe: ["react", "react-dom", "@tanstack/react-query", "@coffer/client"],
  },
});
