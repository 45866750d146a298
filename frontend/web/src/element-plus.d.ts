// The <el-...> tags of the templates, which vite.config.ts resolves to Element Plus components on demand. Every
// Element Plus component is declared a global component, so that vue-tsc (checkUnknownComponents, tsconfig.json)
// rejects any other tag, e.g. <el-nonexistent>. Their props and slots are not typed: the exact types
// ("element-plus/global" in tsconfig.json "types") report errors in the pages today (el-table row slots, ...).
import type * as ElementPlus from "element-plus";

type NotComponents =
  | "ElInfiniteScroll"
  | "ElLoading"
  | "ElLoadingDirective"
  | "ElLoadingService"
  | "ElMessage"
  | "ElMessageBox"
  | "ElNotification"
  | "ElPopoverDirective";

type ElementPlusComponents = {
  [Name in Exclude<Extract<keyof typeof ElementPlus, `El${string}`>, NotComponents>]: any;
};

declare module "vue" {
  interface GlobalComponents extends ElementPlusComponents {}
}

export {};
