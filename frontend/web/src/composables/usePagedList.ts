// One page of a paginated list ({count, results}): its rows, the total, the page number, whether it is loading and
// the last error. Only the latest load's answer is shown: a slower earlier one (an auto-refresh overtaken by a
// search) is dropped.
import { ref, type Ref } from "vue";

import type { Page } from "@/api/client";

export function usePagedList<T>(fetch: (page: number) => Promise<Pick<Page<T>, "count" | "results">>) {
  const rows = ref([]) as Ref<T[]>;
  const total = ref(0);
  const page = ref(1);
  const loading = ref(false);
  const error = ref<unknown>(null);
  let latest = 0;

  async function load(): Promise<void> {
    const mine = ++latest;
    loading.value = true;
    error.value = null;
    try {
      const data = await fetch(page.value);
      if (mine !== latest) return;
      rows.value = data.results;
      total.value = data.count;
    } catch (caught) {
      if (mine !== latest) return;
      error.value = caught;
      rows.value = [];
      total.value = 0;
    } finally {
      if (mine === latest) loading.value = false;
    }
  }

  return { rows, total, page, loading, error, load };
}
