// Which screen the address shows, and what an error does to it.

import { openStream } from "./alerts";
import { api, ApiError } from "./api";
import { el, message, show, top } from "./dom";
import { examScreen, examsScreen } from "./screens/exams";
import { liveScreen } from "./screens/live";
import { sessionScreen } from "./screens/session";
import { sessionsScreen } from "./screens/sessions";
import { signInScreen } from "./screens/signin";
import { state } from "./state";

export function handle(e: unknown): void {
  if (e instanceof ApiError && e.status === 401) {
    state.me = null;
    signInScreen("Your sign-in has expired. Sign in again.");
    return;
  }
  show("Something went wrong", el("p", { class: "error", role: "alert" }, message(e)), el("p", {}, el("a", { href: "#/live" }, "Back to live sessions")));
}

export async function route(): Promise<void> {
  if (!state.me) {
    try {
      const who = await api.me();
      if (who.role !== "proctor") throw new ApiError(403, "This is the proctors' console.");
      state.me = who.username;
      state.admin = who.admin;
    } catch (e) {
      return signInScreen(e instanceof ApiError && e.status === 403 ? e.message : undefined);
    }
  }
  top.hidden = false;
  (document.getElementById("who") as HTMLElement).textContent = `Signed in as ${state.me}`;
  openStream();
  const hash = location.hash || "#/live";
  for (const a of top.querySelectorAll("nav a")) {
    if (hash.startsWith(a.getAttribute("href") ?? "")) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (hash.startsWith("#/session/")) return sessionScreen(decodeURIComponent(hash.slice("#/session/".length)));
  if (hash.startsWith("#/sessions")) return sessionsScreen();
  if (hash.startsWith("#/exam/")) return examScreen(decodeURIComponent(hash.slice("#/exam/".length)));
  if (hash.startsWith("#/exams")) return examsScreen();
  return liveScreen();
}

