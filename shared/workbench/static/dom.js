// DOM helpers. Text from the API only ever goes into textContent or attribute values, never markup:
// that is what keeps a customer called "<img onerror=...>" a name.
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = String(value);
    else if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name.startsWith("aria-") || name.startsWith("data-") || name === "role" || name === "for") {
      node.setAttribute(name, String(value));
    } else node[name] = value;
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function byId(id) {
  return document.getElementById(id);
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

export function say(text) {
  byId("alert").textContent = "";
  byId("status").textContent = text;
}

export function alarm(text) {
  byId("status").textContent = "";
  byId("alert").textContent = text;
}

// Amounts arrive as exact decimal strings ("6477.45"): shown as text, padded to two decimals, never
// through a JavaScript number (a double loses cents above 2^53 / 100).
export function money(value) {
  if (value === null || value === undefined || value === "") return "";
  const text = String(value);
  const parts = /^(-?)(\d+)(?:\.(\d*))?$/.exec(text);
  if (!parts || (parts[3] || "").length > 2) return text;
  return `${parts[1]}${parts[2]}.${(parts[3] || "").padEnd(2, "0")}`;
}

export function period(d) {
  return d.periodFrom === d.periodTo ? d.periodFrom : `${d.periodFrom} - ${d.periodTo}`;
}

export function lastMonth() {
  const now = new Date();
  const first = new Date(now.getFullYear(), now.getMonth() - 1, 1);
  return `${first.getFullYear()}-${String(first.getMonth() + 1).padStart(2, "0")}`;
}

// A labelled input with its error slot; `name` is the API's field name (lines[0].quantity too).
export function field(labelText, id, name, input = {}) {
  const control = el(input.tag || "input", {
    id,
    name,
    type: input.tag ? undefined : input.type || "text",
    value: input.value ?? "",
    required: input.required,
    step: input.step,
    size: input.size,
    inputMode: input.inputMode,
    "aria-describedby": `${id}-error`,
  });
  for (const option of input.options || []) control.append(el("option", { value: option[0], text: option[1] }));
  if (input.tag === "select" && input.value !== undefined) control.value = input.value ?? "";
  return el(
    "div",
    { class: "field" },
    el("label", { for: id, text: labelText }),
    control,
    el("span", { id: `${id}-error`, class: "field-error", "data-error-for": name }),
  );
}

export function clearErrors(scope) {
  for (const slot of scope.querySelectorAll("[data-error-for]")) slot.textContent = "";
  for (const control of scope.querySelectorAll("[aria-invalid]")) control.removeAttribute("aria-invalid");
}

// Shows an ApiError inside `scope`: each field error beside the control of that name (the last
// part of a dotted name as a fallback), the rest in the scope's form-level slot or the alert.
export function showErrors(scope, error) {
  clearErrors(scope);
  const rest = [];
  let first = null;
  for (const item of error.errors || []) {
    const name = item.Field || "";
    const tail = name.split(/[.\]]/).filter(Boolean).pop() || "";
    const slot =
      scope.querySelector(`[data-error-for="${CSS.escape(name)}"]`) ||
      (tail && scope.querySelector(`[data-error-for="${CSS.escape(tail)}"]`));
    if (slot && name) {
      slot.textContent = slot.textContent ? `${slot.textContent} ${item.Message}` : item.Message;
      const control = scope.querySelector(`[aria-describedby~="${CSS.escape(slot.id)}"]`);
      if (control) {
        control.setAttribute("aria-invalid", "true");
        first = first || control;
      }
    } else rest.push(name ? `${name}: ${item.Message}` : item.Message);
  }
  const general = scope.querySelector('[data-error-for=""]');
  const text = [error.message, ...rest].join(" ");
  if (general) general.textContent = text;
  alarm(text);
  if (first) first.focus();
}

export function button(text, onclick, props = {}) {
  return el("button", { type: "button", text, onclick, ...props });
}
