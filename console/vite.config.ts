import { defineConfig } from "vite";

// invigil-server embeds the built files (crates/invigil-server/build.rs).
export default defineConfig({
  clearScreen: false,
  server: { port: 5174, strictPort: true },
  build: { target: "es2021", outDir: "dist", emptyOutDir: true },
});
