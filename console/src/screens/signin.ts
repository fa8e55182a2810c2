// Signing in and out.

import { closeStream } from "../alerts";
import { api, ApiError } from "../api";
import { el, main, message, setTitle, top } from "../dom";
import { route } from "../router";
import { state } from "../state";

export function signInScreen(note?: string): void {
  top.hidden = true;
  closeStream();
  const user = el("input", { id: "username", name: "username", autocomplete: "username", required: "" });
  const pass = el("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: "" });
  const error = el("p", { id: "signin-error", class: "error", role: "alert" }, note ?? "");
  const button = el("button", { id: "sign-in", type: "submit" }, "Sign in");
  const form = el(
    "form",
    { class: "signin", id: "signin-form" },
    el("h1", { id: "page-title", tabindex: "-1" }, "Proctor sign-in"),
    el("label", { for: "username" }, "User name", user),
    el("label", { for: "password" }, "Password", pass),
    error,
    button,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    button.disabled = true;
    error.textContent = "";
    try {
      const r = await api.login(user.value.trim(), pass.value);
      state.me = r.username;
      state.admin = r.admin;
      pass.value = "";
      if (!/^#\/(session|sessions|exam|exams)\b/.test(location.hash)) location.hash = "#/live";
      await route();
    } catch (e) {
      error.textContent = e instanceof ApiError && e.status === 401 ? "Wrong user name or password." : message(e);
      button.disabled = false;
      pass.focus();
    }
  });
  setTitle("Sign in");
  main.replaceChildren(form);
  user.focus();
}

export async function signOut(): Promise<void> {
  closeStream();
  try {
    await api.logout();
  } catch {
    // Signed out already: the cookie is gone either way.
  }
  state.me = null;
  state.lastAlert.clear();
  // Back to the start page without a hashchange (which would route again
  // and replace the message).
  history.replaceState(null, "", "#/live");
  signInScreen("You are signed out.");
}

