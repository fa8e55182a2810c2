// What the app remembers between screens.

import type { AppConfig } from "./bindings";

export const state = {
  config: undefined as unknown as AppConfig,
  /** The exam server's address and the session code, as entered. */
  server: "",
  sessionCode: "",
};
