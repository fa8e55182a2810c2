import { defineConfig } from "vite";

// Tauri serves the built files; no dev-server tricks are needed.
export default defineConfig({
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  build: { target: "es2021", outDir: "dist", emptyOutDir: true },
});
