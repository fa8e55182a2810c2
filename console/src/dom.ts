// Building the page: elements, words for times and events, the badges
// every screen shows, and the page's fixed parts.

import type { DecisionAction, SessionSummary } from "./api";
import { EVENT_LABELS, type EventKind } from "./bindings";

export const main = document.getElementById("main") as HTMLElement;
export const top = document.getElementById("top") as HTMLElement;
export const region = document.getElementById("alert-region") as HTMLElement;
export const soundBox = document.getElementById("sound") as HTMLInputElement;

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  // Styles through the CSSOM: the console's CSP forbids style attributes.
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "style") node.style.cssText = v;
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

export function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function clock(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  const m = Math.floor(s / 60);
  return `${String(m).padStart(2, "0")}:${(s - m * 60).toFixed(1).padStart(4, "0")}`;
}

export function ago(ms: number | null): string {
  if (ms === null) return "never";
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 5) return "just now";
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  return new Date(ms).toLocaleString();
}

export function band(priority: number): "high" | "medium" | "low" {
  return priority >= 60 ? "high" : priority >= 25 ? "medium" : "low";
}

export function priorityBadge(s: SessionSummary): HTMLElement {
  const b = band(s.priority);
  return el("span", { class: `badge ${b}`, title: "Review priority, 0-100 (see the console guide)" }, `Priority ${Math.round(s.priority)} (${b})`);
}

export function openBadge(s: SessionSummary): HTMLElement {
  return s.open_alerts > 0
    ? el("span", { class: "badge violation open-count" }, `${s.open_alerts} open alert${s.open_alerts === 1 ? "" : "s"}`)
    : el("span", { class: "badge ok open-count" }, "No open alerts");
}

export function connection(s: SessionSummary): string {
  if (s.state !== "live") return s.end_reason ? `Ended (${s.end_reason})` : "Ended";
  if (s.last_seen_ms !== null && Date.now() - s.last_seen_ms < 75_000) return "Connected";
  return `No contact since ${ago(s.last_seen_ms ?? s.created_ms)}`;
}

export function setTitle(text: string): void {
  document.title = `${text} · invigil console`;
}

export function show(title: string, ...content: Node[]): void {
  setTitle(title);
  main.replaceChildren(el("h1", { id: "page-title", tabindex: "-1" }, title), ...content);
}

/** How proctors read an event kind (generated from the Rust event kinds). */
export const label = (kind: string): string => EVENT_LABELS[kind as EventKind] ?? kind;

/** How a decision reads in the timeline and the audit trail. */
export const DECIDED: Record<DecisionAction, string> = {
  acknowledge: "Acknowledged",
  dismiss: "Dismissed (false flag)",
  confirm: "Confirmed",
  end: "Ended the session",
  invalidate: "Invalidated the session",
};

export function announce(text: string): void {
  const n = el("div", { class: "toast", style: "background: var(--ok)" }, text);
  region.append(n);
  setTimeout(() => n.remove(), 4000);
}

