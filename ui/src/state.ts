// What the app remembers between screens.

import type { AppConfig, CheckinRequirements } from "./bindings";

export const state = {
  config: undefined as unknown as AppConfig,
  /** The exam server's address and the session code, as entered. */
  server: "",
  sessionCode: "",
  /** What the exam's check-in asks for (set when the session opens). */
  checkin: { face: true, id: true, room: true } as CheckinRequirements,
};
