// The Orders tab: open drafts with selection and expandable lines, and the actions on them
// (generate, new, delete, merge, concept PDF, specification, create invoices in e-conomic).
import { call, download, fetchDraft, refreshExpanded, sameOrigin } from "./api.js";
import { alarm, button, byId, clear, clearErrors, el, field, money, period, say, showErrors } from "./dom.js";
import { renderLines, toggleLines } from "./lines.js";
import { loadInvoices } from "./invoices.js";

const state = { drafts: [], selected: new Set(), open: new Map() };

export async function loadOrders() {
  const { data } = await call("GET", "invoicing/drafts?status=open");
  state.drafts = data.drafts;
  const known = new Set(state.drafts.map((d) => d.draftId));
  for (const id of [...state.selected]) if (!known.has(id)) state.selected.delete(id);
  await refreshExpanded(state.open, state.drafts);
  render();
}

function render() {
  const focused = document.activeElement && document.activeElement.id;
  const rows = clear(byId("orders-rows"));
  if (state.drafts.length === 0) {
    rows.append(el("tr", {}, el("td", { colSpan: 8, class: "empty", text: "No open orders. Generate them from hour bookings or add one." })));
  }
  for (const d of state.drafts) {
    const id = d.draftId;
    const entry = state.open.get(id);
    const shown = entry ? entry.draft : d;
    const name = `order ${id} (${d.customer.name})`;
    const select = el("input", {
      type: "checkbox",
      id: `select-${id}`,
      checked: state.selected.has(id),
      "aria-label": `Select ${name}`,
      onchange: (event) => {
        if (event.target.checked) state.selected.add(id);
        else state.selected.delete(id);
        event.target.closest("tr").classList.toggle("selected", event.target.checked);
      },
    });
    const expander = button("Lines", () => toggleLines(state.open, id, render), {
      id: `expand-${id}`,
      class: "expander",
      "aria-expanded": entry ? "true" : "false",
      "aria-controls": `order-${id}-lines`,
      "aria-label": `Lines of ${name}`,
    });
    rows.append(
      el(
        "tr",
        { class: state.selected.has(id) ? "selected" : "", "data-draft-id": id },
        el("td", {}, select),
        el("td", {}, expander),
        el("th", { scope: "row", text: id }),
        el("td", { text: shown.customer.name }),
        el("td", { text: period(shown) }),
        el("td", { class: "num", text: shown.totals.hours }),
        el("td", { class: "num", text: money(shown.totals.net) }),
        el("td", { text: shown.customer.currency }),
      ),
    );
    if (entry) {
      const cell = el("td", { colSpan: 8 });
      rows.append(el("tr", { class: "detail", id: `order-${id}-lines` }, cell));
      renderLines(cell, entry, {
        editable: true,
        changed: (fresh) => {
          state.open.set(id, fresh);
          updateSummary(fresh.draft);
          render();
        },
        reload: async () => {
          state.open.set(id, await fetchDraft(id));
          render();
        },
      });
    }
  }
  if (focused && byId(focused)) byId(focused).focus();
}

function updateSummary(draft) {
  state.drafts = state.drafts.map((d) => (d.draftId === draft.draftId ? draft : d));
}


function chosen(minimum, what) {
  const ids = [...state.selected].sort((a, b) => a - b);
  if (ids.length < minimum) {
    alarm(minimum > 1 ? `Select at least ${minimum} orders to ${what}.` : `Select the orders to ${what}.`);
    return null;
  }
  return ids;
}

async function guarded(action) {
  try {
    await action();
  } catch (error) {
    alarm(error.message + (error.errors || []).map((e) => ` ${e.Field}: ${e.Message}`).join(""));
  }
}

// -- generate ------------------------------------------------------------------------------------

async function generate(event) {
  event.preventDefault();
  const form = event.target;
  clearErrors(form);
  try {
    const month = form.elements.namedItem("period").value;
    const { data } = await call("POST", "invoicing/runs", { body: month ? { period: month } : {} });
    showUnresolved(data.unresolved);
    const count = data.unresolved.length;
    const note = count ? `; ${plural(count, "hour booking")} could not be invoiced (listed below)` : "";
    say(`Generated ${plural(data.drafts.length, "order")} for ${data.period}${note}.`);
    await loadOrders();
  } catch (error) {
    showErrors(form, error);
  }
}

function plural(count, noun) {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function showUnresolved(items) {
  const rows = clear(byId("unresolved-rows"));
  for (const item of items) {
    rows.append(el("tr", {}, el("td", { text: item.noteId }), el("td", { text: item.field }), el("td", { text: item.reason })));
  }
  byId("unresolved").hidden = items.length === 0;
}

// -- delete, merge, PDFs --------------------------------------------------------------------------

async function remove() {
  const ids = chosen(1, "delete");
  if (!ids || !window.confirm(`Delete orders ${ids.join(", ")}? Their hour bookings become uninvoiced again; the numbers stay unused.`)) return;
  await guarded(async () => {
    const done = [];
    for (const id of ids) {
      await call("DELETE", `invoicing/drafts/${id}`);
      state.selected.delete(id);
      done.push(id);
    }
    say(`Deleted orders ${done.join(", ")}.`);
    await loadOrders();
  });
}

async function merge() {
  const ids = chosen(2, "merge");
  if (!ids) return;
  await guarded(async () => {
    const { data, etag } = await call("POST", "invoicing/merges", { body: { draftIds: ids } });
    state.selected.clear();
    state.open.set(data.draftId, { draft: data, etag });
    say(`Merged orders ${ids.join(", ")} into order ${data.draftId}.`);
    await loadOrders();
  });
}

async function conceptPdf() {
  const ids = chosen(1, "print");
  if (!ids) return;
  await guarded(async () => {
    const names = [];
    for (const id of ids) names.push(await download(`invoicing/drafts/${id}/pdf`, `concept-draft-${id}.pdf`));
    say(`Downloaded ${names.join(", ")}.`);
  });
}

async function specification(format) {
  const ids = chosen(1, "print the specification of");
  if (!ids) return;
  const path =
    ids.length === 1
      ? `invoicing/drafts/${ids[0]}/specification?format=${format}`
      : `invoicing/specification?draftIds=${ids.join(",")}&format=${format}`;
  await guarded(async () => {
    const name = await download(path, `specification.${format}`);
    say(`Downloaded ${name}.`);
  });
}

// -- create invoices (export of the selected drafts) ----------------------------------------------

async function createInvoices(event) {
  event.preventDefault();
  const form = event.target;
  clearErrors(form);
  const ids = chosen(1, "create invoices for");
  if (!ids) return;
  const body = { draftIds: ids };
  // Left out unless chosen here: the service then takes the tenant's default (Settings tab).
  const documentType = form.elements.namedItem("documentType").value;
  if (documentType) body.documentType = documentType;
  const date = form.elements.namedItem("invoiceDate").value;
  if (date) body.invoiceDate = date;
  try {
    const { data } = await call("POST", "integration/economic/invoice/draft", { body });
    state.selected.clear();
    say(`Sending ${data.drafts.length} orders to e-conomic...`);
    await follow(data.statusUrl, ids);
  } catch (error) {
    showErrors(form, error);
  }
}

const DOCUMENT = { draftInvoice: "draft invoice", order: "order" };

function showJob(job, ids) {
  byId("export-progress").hidden = false;
  // Polled every second: the live region changes (and is read out) only when the job does.
  const signature = JSON.stringify([job.state, job.attempts, job.exported, job.documents, job.errors]);
  if (signature === showJob.last) return;
  showJob.last = signature;
  const line = byId("export-state");
  line.className = `state-${job.state}`;
  line.textContent = `State: ${job.state} (attempt ${job.attempts}); ${job.exported} of ${job.total} exported.`;
  const outcome = clear(byId("export-outcome"));
  const numbers = new Map(job.documents.map((d) => [d.draftId, d.number]));
  for (const id of ids) {
    const number = numbers.get(id);
    const text =
      number !== undefined
        ? `Order ${id}: e-conomic ${DOCUMENT[job.documentType] || job.documentType} ${number}`
        : `Order ${id}: ${job.state === "failed" ? "not exported" : "waiting"}`;
    outcome.append(el("li", { text }));
  }
  for (const left of job.leftovers || []) {
    outcome.append(el("li", { text: `Order ${left.draftId}: e-conomic document ${left.number} could not be removed; delete it there by hand.` }));
  }
  for (const error of job.errors) outcome.append(el("li", { class: "field-error", text: `${error.Field}: ${error.Message}` }));
}

async function follow(statusUrl, ids) {
  const path = sameOrigin(statusUrl);
  for (;;) {
    const { data: job } = await call("GET", path);
    showJob(job, ids);
    if (job.state === "succeeded" || job.state === "failed") {
      if (job.state === "succeeded") say(`Created ${job.documents.length} invoices in e-conomic.`);
      else alarm(`Creating invoices failed: ${job.errors.map((e) => e.Message).join(" ")}`);
      await Promise.all([loadOrders(), loadInvoices()]);
      return job;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

// -- new order (not based on hour bookings) --------------------------------------------------------

async function newOrder() {
  const host = byId("new-order");
  let customers;
  try {
    customers = (await call("GET", "billing/customers")).data.customers;
  } catch (error) {
    alarm(error.message);
    return;
  }
  const lines = el("div");
  const addRow = () => {
    const n = lines.children.length;
    lines.append(
      el(
        "fieldset",
        {},
        el("legend", { text: `Line ${n + 1}` }),
        el(
          "div",
          { class: "line-fields" },
          field("Product", `new-line-${n}-product`, `lines[${n}].productNumber`, { size: 8 }),
          field("Description", `new-line-${n}-description`, `lines[${n}].description`, { size: 36 }),
          field("Quantity", `new-line-${n}-quantity`, `lines[${n}].quantity`, { value: "1", size: 8, inputMode: "decimal" }),
          field("Unit price", `new-line-${n}-price`, `lines[${n}].unitPrice`, { size: 10, inputMode: "decimal" }),
        ),
      ),
    );
  };
  addRow();
  const form = el(
    "form",
    { id: "new-order-form", noValidate: true },
    el(
      "div",
      { class: "line-fields" },
      field("Customer", "new-customer", "customerId", {
        tag: "select",
        options: [["", "Choose a customer"], ...customers.map((c) => [String(c.customerId), `${c.name} (${c.customerId})`])],
      }),
      field("Month", "new-period", "period", { type: "month" }),
    ),
    lines,
    button("Add another line", () => addRow(), { id: "new-order-add-line" }),
    " ",
    el("button", { type: "submit", text: "Create order" }),
    " ",
    button("Cancel", () => closeNewOrder()),
    el("span", { class: "form-error", "data-error-for": "" }),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const customer = form.elements.namedItem("customerId").value;
    const body = { customerId: /^\d+$/.test(customer) ? Number(customer) : customer, lines: [] };
    const month = form.elements.namedItem("period").value;
    if (month) body.period = month;
    for (let n = 0; n < lines.children.length; n += 1) {
      const get = (name) => form.elements.namedItem(`lines[${n}].${name}`).value.trim();
      body.lines.push({ productNumber: get("productNumber"), description: get("description"), quantity: get("quantity"), unitPrice: get("unitPrice") });
    }
    try {
      const { data, etag } = await call("POST", "invoicing/drafts", { body });
      state.open.set(data.draftId, { draft: data, etag });
      closeNewOrder();
      say(`Order ${data.draftId} created for ${data.customer.name}.`);
      await loadOrders();
      byId(`expand-${data.draftId}`)?.focus();
    } catch (error) {
      showErrors(form, error);
    }
  });
  form.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closeNewOrder();
  });
  clear(host).append(el("h3", { id: "new-order-heading", text: "New order (not based on hour bookings)" }), form);
  host.hidden = false;
  byId("new-customer").focus();
}

function closeNewOrder() {
  const host = byId("new-order");
  host.hidden = true;
  clear(host);
  byId("order-new").focus();
}

export function setUpOrders() {
  byId("run-form").addEventListener("submit", generate);
  byId("export-form").addEventListener("submit", createInvoices);
  byId("order-new").addEventListener("click", newOrder);
  byId("order-delete").addEventListener("click", remove);
  byId("order-merge").addEventListener("click", merge);
  byId("order-pdf").addEventListener("click", conceptPdf);
  byId("order-spec-pdf").addEventListener("click", () => specification("pdf"));
  byId("order-spec-csv").addEventListener("click", () => specification("csv"));
  byId("orders-refresh").addEventListener("click", () => guarded(loadOrders));
}
