// The Settings tab: the tenant's accounting defaults (GET/PUT billing/settings). PUT replaces every
// field: an empty box is sent as null.
import { call } from "./api.js";
import { byId, clear, clearErrors, el, field, say, showErrors } from "./dom.js";

const FIELDS = [
  ["accountingEmail", "Accounting e-mail (gets every export report)", "email"],
  ["defaultProductNumber", "Accounting product (e-conomic product number)", "text"],
  ["paymentTermsNumber", "Payment condition (e-conomic payment terms number)", "number"],
  ["layoutNumber", "Invoice layout (e-conomic layout number)", "number"],
];

export async function loadSettings() {
  const form = clear(byId("settings-form"));
  const { data } = await call("GET", "billing/settings");
  for (const [name, label, type] of FIELDS) {
    // Numbers in a text box: whatever is typed reaches the service, which names what is wrong.
    const props = type === "number" ? { inputMode: "numeric" } : { type };
    const box = field(label, `setting-${name}`, name, { ...props, value: data[name] ?? "" });
    form.append(...box.children);
  }
  const kind = field("Send to e-conomic as", "setting-documentType", "documentType", {
    tag: "select",
    value: data.documentType ?? "",
    options: [["", "(the request decides: draft invoices)"], ["draftInvoice", "draft invoices"], ["order", "orders"]],
  });
  form.append(...kind.children);
  form.append(el("div", { class: "actions" }, el("button", { type: "submit", text: "Save settings" })));
  form.append(el("span", { class: "form-error", "data-error-for": "" }));
}

async function save(event) {
  event.preventDefault();
  const form = event.target;
  clearErrors(form);
  const body = {};
  for (const [name, , type] of FIELDS) {
    const text = form.elements.namedItem(name).value.trim();
    body[name] = text === "" ? null : type === "number" && /^\d+$/.test(text) ? Number(text) : text;
  }
  body.documentType = form.elements.namedItem("documentType").value || null;
  try {
    await call("PUT", "billing/settings", { body });
    say("Settings saved.");
  } catch (error) {
    showErrors(form, error);
  }
}

export function setUpSettings() {
  byId("settings-form").addEventListener("submit", save);
}
