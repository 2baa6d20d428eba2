import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// The Django backend; override when it runs elsewhere (e.g. inside a container).
const backend = process.env.VMB_BACKEND_URL ?? "http://127.0.0.1:8000";

export default defineConfig({
  // Django serves dist/index.html for every non-API path and dist's files at the site root.
  base: "/",
  plugins: [react()],
  server: {
    port: 5173,
    proxy: {
      "/api": backend,
      "/ws": { target: backend, ws: true },
      "/healthz": backend,
      "/admin": backend,
      // The Django admin's own stylesheets and scripts.
      "/static": backend,
    },
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
  },
  test: {
    // The browser build, as `vite build` picks through the package's "browser" field; the tests
    // run in Node, which would otherwise get the build that reads files from disk.
    alias: { "tus-js-client": "tus-js-client/lib.esm/browser/index.js" },
    environment: "jsdom",
    setupFiles: ["./src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    restoreMocks: true,
    testTimeout: 20_000, // above the 5 s findBy* wait (src/test/setup.ts), on a loaded machine
    unstubGlobals: true,
  },
});
