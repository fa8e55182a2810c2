// What the console remembers while it is open.

import type { Alert } from "./api";

export const state = {
  /** The signed-in proctor, once known. */
  me: null as string | null,
  /** Whether that account is an admin (exams, enrolments). */
  admin: false,
  /** The latest alert per session, shown on its card. */
  lastAlert: new Map<string, Alert & { at: number }>(),
};

/** Whether the Live page is showing. */
export function onLivePage(): boolean {
  return location.hash.startsWith("#/live") || location.hash === "" || location.hash === "#/";
}
