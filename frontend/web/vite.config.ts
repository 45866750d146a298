/// <reference types="vitest/config" />
// Built files go to dist/, which Django collects as static files under /static/web/ (trading/settings.py
// STATICFILES_DIRS); frontend/views.py serves dist/index.html for every page path. `npm run dev` serves the app on
// :5173 and forwards the API, admin, websockets and Django's own static files to Django (DJANGO_URL, default :8000).
import { fileURLToPath, URL } from "node:url";

import vue from "@vitejs/plugin-vue";
import { defineConfig } from "vite";

const django = process.env.DJANGO_URL ?? "http://127.0.0.1:8000";
// Django checks the Origin of unsafe requests against its own host: present the dev server's requests as its own.
const toDjango = { target: django, changeOrigin: true, headers: { origin: django } };

export default defineConfig(({ command }) => ({
  base: command === "build" ? "/static/web/" : "/",
  plugins: [vue()],
  resolve: { alias: { "@": fileURLToPath(new URL("./src", import.meta.url)) } },
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 2000, reportCompressedSize: false },
  server: {
    port: 5173,
    proxy: {
      "/api": toDjango,
      "/admin": toDjango,
      "/static": toDjango,
      "/ws": { ...toDjango, ws: true },
    },
  },
  test: { include: ["src/**/*.test.ts"], environment: "node", testTimeout: 60000 },
}));
