// @ts-check
// The dashboard page: its timers (then the rundowns made of them) and its account, loaded
// together; the page says when every part has answered (body[data-loaded]), or what went wrong.
import { loadAccount, loadKeys } from "./dashboard-account.js";
import { notice } from "./dashboard-api.js";
import { loadRundowns } from "./dashboard-rundowns.js";
import { loadTimers } from "./dashboard-timers.js";

Promise.all([loadTimers().then(() => loadRundowns()), loadAccount(), loadKeys()]).then(() => {
  document.body.dataset.loaded = "true";
}, notice);
