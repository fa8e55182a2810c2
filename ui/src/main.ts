// The candidate app: start -> system check -> check-in (face photo, ID
// photo, room scan) -> exam -> receipt, one module of screens/ each.
// Every type crossing the IPC comes from ./bindings (generated from Rust).
import { invoke } from "@tauri-apps/api/core";
import type { AppConfig } from "./bindings";
import { startScreen } from "./screens/start";
import { state } from "./state";

async function main(): Promise<void> {
  state.config = await invoke<AppConfig>("app_config");
  state.server = state.config.server ?? "";
  startScreen();
}

void main();
