// Who is logged in (session cookie auth; the CSRF cookie comes with the page and is renewed at login).
import { defineStore } from "pinia";
import { ref } from "vue";

import { api, ApiError } from "@/api/client";
import type { User } from "@/api/types";

export const useSession = defineStore("session", () => {
  const user = ref<User | null>(null);
  const loaded = ref(false);

  async function load(): Promise<User | null> {
    try {
      user.value = await api.get<User>("auth/me/");
    } catch (error) {
      if (!(error instanceof ApiError) || (error.status !== 401 && error.status !== 403)) throw error;
      user.value = null;
    } finally {
      loaded.value = true;
    }
    return user.value;
  }

  async function login(username: string, password: string): Promise<User> {
    user.value = await api.post<User>("auth/login/", { username, password });
    loaded.value = true;
    return user.value;
  }

  async function logout(): Promise<void> {
    await api.post<void>("auth/logout/");
    user.value = null;
  }

  return { user, loaded, load, login, logout };
});
