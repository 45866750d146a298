// The whole Element Plus stylesheet; its components are imported on demand (vite.config.ts).
import "element-plus/dist/index.css";
import "./style.css";

import { createPinia } from "pinia";
import { createApp } from "vue";

import App from "./App.vue";
import { applyLocale, i18n, storedLocale } from "./i18n";
import { router } from "./router";

applyLocale(storedLocale());
createApp(App).use(createPinia()).use(i18n).use(router).mount("#app");
