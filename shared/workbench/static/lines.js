// An order's lines (the expanded row): a table, an edit form per line and a form to add one. Every
// change sends the draft's version in If-Match; a 412 means someone changed the order meanwhile.
import { call, fetchDraft } from "./api.js";
import { alarm, button, clear, clearErrors, el, field, money, say, showErrors } from "./dom.js";

const KIND = { time: "Hours", surcharge: "Surcharge", manual: "Manual" };

function unitPrice(line) {
  return line.unitPrice ?? line.rate;
}

function quantity(line) {
  return line.quantity ?? (line.kind === "time" ? line.hours : "");
}

// The "Lines" button of a tab's row: expands the order (fetching it) or folds it, then re-renders.
export async function toggleLines(open, id, render) {
  try {
    if (open.has(id)) open.delete(id);
    else open.set(id, await fetchDraft(id));
    render();
  } catch (error) {
    alarm(error.message);
  }
}

// entry: {draft, etag}; ctx: {editable, changed(entry) -> re-render after a change, reload() -> fresh entry}
export function renderLines(host, entry, ctx) {
  clear(host);
  const { draft } = entry;
  const table = el(
    "table",
    { class: "lines" },
    el("caption", { text: `Lines of order ${draft.draftId}` }),
    el(
      "thead",
      {},
      el(
        "tr",
        {},
        ["Date", "Kind", "Description", "User", "Ticket", "Quantity", "Unit price", "Amount", "Product"].map((h) =>
          el("th", { scope: "col", text: h, class: ["Quantity", "Unit price", "Amount"].includes(h) ? "num" : "" }),
        ),
        ctx.editable ? el("th", { scope: "col" }, el("span", { class: "sr-only", text: "Actions" })) : null,
      ),
    ),
  );
  const body = el("tbody");
  const editor = el("div", { class: "line-editor" });
  for (const [index, line] of (draft.lines || []).entries()) {
    const row = el(
      "tr",
      {},
      el("td", { text: (line.kind === "manual" && line.period) || line.date || "" }),
      el("td", { text: KIND[line.kind] || line.kind }),
      el("td", { text: line.description }),
      el("td", { text: line.user || "" }),
      el("td", { text: line.ticketId ?? "" }),
      el("td", { class: "num", text: quantity(line) }),
      el("td", { class: "num", text: money(unitPrice(line)) }),
      el("td", { class: "num", text: money(line.amount) }),
      el("td", { text: line.productNumber }),
    );
    if (line.hint && line.hint !== line.description) row.children[2].append(el("div", { class: "help", text: line.hint }));
    if (ctx.editable) {
      const what = `line ${index + 1} of order ${draft.draftId}`;
      row.append(
        el(
          "td",
          {},
          button("Edit", () => editLine(editor, entry, line, ctx), { "aria-label": `Edit ${what}` }),
          " ",
          button("Delete", () => deleteLine(entry, line, ctx, what), { "aria-label": `Delete ${what}` }),
        ),
      );
    }
    body.append(row);
  }
  if (!draft.lines || draft.lines.length === 0) {
    body.append(el("tr", {}, el("td", { colSpan: 10, class: "empty", text: "No lines." })));
  }
  table.append(body);
  host.append(table, editor);
  if (ctx.editable) host.append(button("Add line", () => addLine(editor, entry, ctx), { id: `add-line-${draft.draftId}` }));
}

// Runs a change with the draft's version; on 412/428 reloads the order and says why.
async function mutate(entry, ctx, form, method, path, body) {
  try {
    const result = await call(method, path, { body, ifMatch: entry.etag });
    ctx.changed({ draft: result.data, etag: result.etag });
    return true;
  } catch (error) {
    if (error.status === 412 || error.status === 428) {
      await ctx.reload();
      alarm(`Order ${entry.draft.draftId} was changed meanwhile and has been reloaded: check it and make your change again.`);
      return false;
    }
    showErrors(form, error);
    return false;
  }
}

function lineForm(prefix, title, fields, onSubmit, onCancel) {
  const form = el(
    "form",
    { class: "inline", noValidate: true, "aria-label": title },
    el("div", { class: "line-fields" }, fields),
    el("button", { type: "submit", text: "Save" }),
    button("Cancel", onCancel),
    el("span", { class: "form-error", "data-error-for": "" }),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    await onSubmit(form);
  });
  form.addEventListener("keydown", (event) => {
    if (event.key === "Escape") onCancel();
  });
  form.id = `${prefix}-form`;
  return form;
}

// Closes the editor and gives the focus back to the button that opened it.
function closer(editor) {
  const opener = document.activeElement;
  return () => {
    clear(editor);
    if (opener && opener.isConnected) opener.focus();
  };
}

function value(form, name) {
  const control = form.elements.namedItem(name);
  return control ? control.value.trim() : undefined;
}

function editLine(editor, entry, line, ctx) {
  const id = `edit-${entry.draft.draftId}`;
  const fields = [field("Description", `${id}-description`, "description", { value: line.description, size: 40 })];
  if (line.kind !== "surcharge") {
    const label = line.kind === "time" ? "Hourly rate" : "Unit price";
    fields.push(field(label, `${id}-unitPrice`, "unitPrice", { value: unitPrice(line), size: 10, inputMode: "decimal" }));
  }
  if (line.kind === "manual") {
    fields.push(field("Quantity", `${id}-quantity`, "quantity", { value: quantity(line), size: 8, inputMode: "decimal" }));
    fields.push(field("Product", `${id}-productNumber`, "productNumber", { value: line.productNumber, size: 8 }));
    fields.push(field("Month", `${id}-period`, "period", { type: "month", value: line.period || "" }));
  }
  const close = closer(editor);
  const form = lineForm(id, `Edit line of order ${entry.draft.draftId}`, fields, async (f) => {
    const body = {};
    for (const name of ["description", "unitPrice", "quantity", "productNumber", "period"]) {
      const text = value(f, name);
      if (text !== undefined && text !== "") body[name] = text;
    }
    const path = `invoicing/drafts/${entry.draft.draftId}/lines/${encodeURIComponent(line.lineId)}`;
    if (await mutate(entry, ctx, f, "PATCH", path, body)) say(`Line of order ${entry.draft.draftId} changed.`);
  }, close);
  clear(editor).append(el("h4", { text: `Edit line: ${line.description}` }), form);
  form.querySelector("input").focus();
}

function addLine(editor, entry, ctx) {
  const id = `add-${entry.draft.draftId}`;
  const fields = [
    field("Product", `${id}-productNumber`, "productNumber", { size: 8 }),
    field("Description", `${id}-description`, "description", { size: 36 }),
    field("Quantity", `${id}-quantity`, "quantity", { value: "1", size: 8, inputMode: "decimal" }),
    field("Unit price", `${id}-unitPrice`, "unitPrice", { size: 10, inputMode: "decimal" }),
    field("Month", `${id}-period`, "period", { type: "month" }),
  ];
  const form = lineForm(id, `Add a line to order ${entry.draft.draftId}`, fields, async (f) => {
    const body = {};
    for (const name of ["productNumber", "description", "quantity", "unitPrice", "period"]) {
      const text = value(f, name);
      if (text !== "") body[name] = text;
    }
    if (await mutate(entry, ctx, f, "POST", `invoicing/drafts/${entry.draft.draftId}/lines`, body)) {
      say(`Line added to order ${entry.draft.draftId}.`);
    }
  }, closer(editor));
  clear(editor).append(el("h4", { text: `New line for order ${entry.draft.draftId}` }), form);
  form.querySelector("input").focus();
}

async function deleteLine(entry, line, ctx, what) {
  if (!window.confirm(`Delete ${what} (${line.description})?`)) return;
  const path = `invoicing/drafts/${entry.draft.draftId}/lines/${encodeURIComponent(line.lineId)}`;
  const scope = document.getElementById(`order-${entry.draft.draftId}-lines`) || document.body;
  if (await mutate(entry, ctx, scope, "DELETE", path, undefined)) say(`Deleted ${what}.`);
}
