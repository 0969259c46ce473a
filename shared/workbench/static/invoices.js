// The Invoices tab: drafts sent to e-conomic (exported: e-conomic's document number; booked: the
// booked invoice number too), their lines, and the button that fetches booked numbers now.
import { call, download, refreshExpanded } from "./api.js";
import { alarm, button, byId, clear, el, money, period, say } from "./dom.js";
import { renderLines, toggleLines } from "./lines.js";

const state = { drafts: [], open: new Map() };
const DOCUMENT = { draftInvoice: "draft invoice", order: "order" };

export async function loadInvoices() {
  const [exported, booked] = await Promise.all([
    call("GET", "invoicing/drafts?status=exported"),
    call("GET", "invoicing/drafts?status=booked"),
  ]);
  state.drafts = [...exported.data.drafts, ...booked.data.drafts].sort((a, b) => b.draftId - a.draftId);
  await refreshExpanded(state.open, state.drafts);
  render();
}

function documentText(accounting) {
  if (!accounting || accounting.documentNumber === undefined) return "";
  return `${DOCUMENT[accounting.documentType] || accounting.documentType || ""} ${accounting.documentNumber}`.trim();
}

function render() {
  const focused = document.activeElement && document.activeElement.id;
  const rows = clear(byId("invoices-rows"));
  if (state.drafts.length === 0) rows.append(el("tr", {}, el("td", { colSpan: 9, class: "empty", text: "Nothing sent to e-conomic yet." })));
  for (const d of state.drafts) {
    const id = d.draftId;
    const entry = state.open.get(id);
    const accounting = d.accounting || {};
    const status = accounting.missing ? "deleted in e-conomic" : d.status;
    const actions = el("td", {}, button("PDF", () => pdf(d), { id: `invoice-pdf-${id}`, "aria-label": `PDF of order ${id}` }));
    if (accounting.missing) {
      actions.append(" ", button("Reopen", () => reopen(id), { id: `reopen-${id}`, "aria-label": `Reopen order ${id}` }));
    }
    rows.append(
      el(
        "tr",
        { "data-draft-id": id },
        el(
          "td",
          {},
          button("Lines", () => toggleLines(state.open, id, render), {
            id: `invoice-expand-${id}`,
            class: "expander",
            "aria-expanded": entry ? "true" : "false",
            "aria-controls": `invoice-${id}-lines`,
            "aria-label": `Lines of order ${id} (${d.customer.name})`,
          }),
        ),
        el("th", { scope: "row", text: id }),
        el("td", { text: d.customer.name }),
        el("td", { text: period(d) }),
        el("td", { class: "num", text: `${money(d.totals.net)} ${d.customer.currency}` }),
        el("td", { text: status }),
        el("td", { text: documentText(accounting) }),
        el("td", { class: "invoice-number", text: d.invoiceNumber ?? "" }),
        actions,
      ),
    );
    if (entry) {
      const cell = el("td", { colSpan: 9 });
      rows.append(el("tr", { class: "detail", id: `invoice-${id}-lines` }, cell));
      renderLines(cell, entry, { editable: false });
    }
  }
  if (focused && byId(focused)) byId(focused).focus();
}


async function pdf(d) {
  try {
    say(`Downloaded ${await download(`invoicing/drafts/${d.draftId}/pdf`, `invoice-draft-${d.draftId}.pdf`)}.`);
  } catch (error) {
    alarm(error.message);
  }
}

async function reopen(id) {
  try {
    await call("POST", `invoicing/drafts/${id}/reopen`);
    say(`Order ${id} is open again (Orders tab): export it anew or delete it.`);
    await loadInvoices();
  } catch (error) {
    alarm(error.message);
  }
}

async function synchronise() {
  const trigger = byId("invoices-sync");
  trigger.disabled = true;
  try {
    const { data } = await call("POST", "integration/economic/sync", { body: {} });
    const booked = data.booked || [];
    const numbers = booked.map((b) => `order ${b.draftId} -> invoice ${b.invoiceNumber}`).join(", ");
    say(booked.length ? `Synchronised: ${numbers}.` : "Synchronised: no newly booked invoices in e-conomic.");
    await loadInvoices();
  } catch (error) {
    alarm(error.message);
  } finally {
    trigger.disabled = false;
  }
}

export function setUpInvoices() {
  byId("invoices-sync").addEventListener("click", synchronise);
  byId("invoices-refresh").addEventListener("click", () => loadInvoices().catch((error) => alarm(error.message)));
}
