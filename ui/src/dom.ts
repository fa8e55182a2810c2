// Building the app's screens: elements, focus, announcements, and the
// words for what was flagged.

import { CANDIDATE_TEXT, type EventKind, type EventView } from "./bindings";

export const app = document.getElementById("app") as HTMLElement;
export const announcer = document.getElementById("announcer") as HTMLElement;
export const connectionLine = document.getElementById("connection") as HTMLElement;

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

/** Shows a screen and moves keyboard focus to its heading. */
export function show(title: string, ...content: Node[]): void {
  const h = el("h1", { tabindex: "-1", id: "screen-title" }, title);
  app.replaceChildren(h, ...content);
  h.focus();
}

export function announce(text: string): void {
  if (announcer.textContent !== text) announcer.textContent = text;
}

export function errorText(e: unknown): string {
  return typeof e === "string" ? e : e instanceof Error ? e.message : JSON.stringify(e);
}

/** How the app words an event it shows the candidate (generated from the
 *  Rust event kinds). */
export const eventText = (kind: string): string => CANDIDATE_TEXT[kind as EventKind] ?? kind;

export function describe(e: EventView): string {
  const at = `${Math.floor(e.t_ms / 60000)}:${String(Math.floor((e.t_ms % 60000) / 1000)).padStart(2, "0")}`;
  return `${at} — ${eventText(e.kind)}`;
}

