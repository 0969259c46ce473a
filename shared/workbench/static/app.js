// Boot: the API key (asked once, kept in sessionStorage for this tab), the tabs, the first load.
import { apiKey, call, forgetApiKey, setApiKey } from "./api.js";
import { alarm, byId, clearErrors, lastMonth, say, showErrors } from "./dom.js";
import { loadInvoices, setUpInvoices } from "./invoices.js";
import { loadOrders, setUpOrders } from "./orders.js";
import { loadSettings, setUpSettings } from "./settings.js";

const TABS = ["orders", "invoices", "settings"];
const LOADERS = { orders: loadOrders, invoices: loadInvoices, settings: loadSettings };

function select(name, focus) {
  for (const tab of TABS) {
    const chosen = tab === name;
    const button = byId(`tab-${tab}`);
    button.setAttribute("aria-selected", String(chosen));
    button.tabIndex = chosen ? 0 : -1;
    byId(`panel-${tab}`).hidden = !chosen;
    if (chosen && focus) button.focus();
  }
  LOADERS[name]().catch((error) => alarm(error.message));
}

function setUpTabs() {
  for (const [index, tab] of TABS.entries()) {
    const button = byId(`tab-${tab}`);
    button.addEventListener("click", () => select(tab, false));
    button.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (step) {
        event.preventDefault();
        select(TABS[(index + step + TABS.length) % TABS.length], true);
      } else if (event.key === "Home" || event.key === "End") {
        event.preventDefault();
        select(event.key === "Home" ? TABS[0] : TABS[TABS.length - 1], true);
      }
    });
  }
}

async function start() {
  // Any admin call proves the key; the settings are small.
  await call("GET", "billing/settings");
  byId("main").hidden = false;
  byId("key-forget").hidden = false;
  byId("api-key").value = "";
  byId("api-key").placeholder = "key in use for this tab";
  await loadOrders();
  say("Ready.");
}

function setUpKey() {
  const form = byId("key-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const value = byId("api-key").value.trim();
    if (!value) {
      showErrors(form, { message: "Enter an API key.", errors: [{ Field: "apiKey", Message: "required" }] });
      return;
    }
    setApiKey(value);
    try {
      await start();
      byId("main").focus();
    } catch (error) {
      forgetApiKey();
      byId("main").hidden = true;
      showErrors(form, { message: error.message, errors: [{ Field: "apiKey", Message: error.message }] });
    }
  });
  byId("key-forget").addEventListener("click", () => {
    forgetApiKey();
    window.location.reload();
  });
}

setUpKey();
setUpTabs();
setUpOrders();
setUpInvoices();
setUpSettings();
byId("run-period").value = lastMonth();
if (apiKey()) {
  start().catch((error) => {
    forgetApiKey();
    alarm(`The saved key no longer works: ${error.message}`);
  });
} else {
  byId("api-key").focus();
}
