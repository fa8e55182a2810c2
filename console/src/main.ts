// The proctor console: sign-in, live sessions, session review, decisions.
// Plain TypeScript and DOM; the server embeds the built files. Each screen
// is a module of screens/; alerts.ts keeps the live stream, router.ts
// picks the screen from the address.

import { soundBox } from "./dom";
import { route } from "./router";
import { liveScreen } from "./screens/live";
import { signOut } from "./screens/signin";
import { state } from "./state";

soundBox.checked = localStorage.getItem("invigil.sound") !== "off";
soundBox.addEventListener("change", () => localStorage.setItem("invigil.sound", soundBox.checked ? "on" : "off"));
(document.getElementById("sign-out") as HTMLButtonElement).addEventListener("click", () => void signOut());
window.addEventListener("hashchange", () => void route());
setInterval(() => {
  if (state.me && (location.hash.startsWith("#/live") || location.hash === "")) void liveScreen(false);
}, 5000);
void route();
