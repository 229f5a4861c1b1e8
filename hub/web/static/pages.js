// The pages in the navigation, in order. A page is { id, label, icon, mount(ctx) }: mount draws
// into ctx.main (and may use ctx.sidebar) and returns an optional cleanup function.

import { chatPage } from "./pages/chat.js";
import { devicesPage } from "./pages/devices.js";
import { memoryPage } from "./pages/memory.js";
import { personalizationPage } from "./pages/personalization.js";
import { settingsPage } from "./pages/settings.js";
import { voicePage } from "./pages/voice.js";

export const PAGES = [chatPage, memoryPage, devicesPage, voicePage, personalizationPage, settingsPage];

/** The page and its parameters for a location hash such as "#/chat/12". */
export function parseRoute(hash) {
  const [id = "", ...params] = hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  const page = PAGES.find((candidate) => candidate.id === id) || PAGES[0];
  return { page, params };
}
