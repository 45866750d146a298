/// <reference types="vitest/config" />
// Built files go to dist/, which Django collects as static files under /static/web/ (trading/settings.py
// STATICFILES_DIRS); frontend/views.py serves dist/index.html for every page path. `npm run dev` serves the app on
// :5173 and forwards the API, admin, websockets and Django's own static files to Django (DJANGO_URL, default :8000).
//
// Element Plus is imported on demand: the resolver turns each <el-...> tag and v-loading in a template into an import
// of that component alone, so the build carries only the components the pages use. Its stylesheet stays whole
// (src/main.ts), which also styles ElMessage/ElMessageBox imported in scripts. No components.d.ts is generated:
// src/element-plus.d.ts declares the Element Plus tags, and vue-tsc rejects any other (checkUnknownComponents).
// The largest chunk is the statistics page with echarts (~550 kB); Vite warns above 600 kB.
import { fileURLToPath, URL } from "node:url";

import vue from "@vitejs/plugin-vue";
import { ElementPlusResolver } from "unplugin-vue-components/resolvers";
import Components from "unplugin-vue-components/vite";
import { defineConfig } from "vite";

const django = process.env.DJANGO_URL ?? "http://127.0.0.1:8000";
// Django checks the Origin of unsafe requests against its own host: present the dev server's requests as its own.
const toDjango = { target: django, changeOrigin: true, headers: { origin: django } };

export default defineConfig(({ command }) => ({
  base: command === "build" ? "/static/web/" : "/",
  plugins: [vue(), Components({ resolvers: [ElementPlusResolver({ importStyle: false })], dts: false })],
  resolve: { alias: { "@": fileURLToPath(new URL("./src", import.meta.url)) } },
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 600, reportCompressedSize: false },
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
