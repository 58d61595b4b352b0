// The configuration panel: turns the form into a BusinessConfig, previews the agent's
// instructions as the owner types, saves through the admin JSON API and shows each
// validation problem next to its field. No framework, no build step.
"use strict";

const form = document.getElementById("config-form");
const businessId = form.dataset.businessId;
const problems = document.getElementById("form-problems");
const saveStatus = document.getElementById("save-status");

function valueOf(input) {
  const kind = input.dataset.kind;
  const nullable = input.dataset.nullable === "true";
  const raw = input.type === "checkbox" ? input.checked : input.value;
  if (kind === "checkbox") return raw;
  if (kind === "number") return raw.trim() === "" ? (nullable ? null : "") : Number(raw);
  if (kind === "lines") {
    const lines = raw.split("\n").map((line) => line.trim()).filter(Boolean);
    return lines.length === 0 && nullable ? null : lines;
  }
  if (kind === "json") {
    try { return JSON.parse(raw); } catch (error) { return raw; } // the server names the field that is wrong
  }
  return raw.trim() === "" && nullable ? null : raw;
}

function readConfig() {
  const config = {};
  for (const input of form.querySelectorAll("[data-kind]")) config[input.name] = valueOf(input);
  config.services = [...form.querySelectorAll("#services tr.service")].map((row) => ({
    name: row.querySelector("[name=service-name]").value.trim(),
    duration_minutes: row.querySelector("[name=service-duration]").value === "" ? "" : Number(row.querySelector("[name=service-duration]").value),
    price: row.querySelector("[name=service-price]").value.trim() || null,
  }));
  config.hours = {};
  for (const row of form.querySelectorAll("tr.day")) {
    if (row.querySelector("[name=open]").checked) {
      config.hours[row.dataset.day] = { opens: row.querySelector("[name=opens]").value, closes: row.querySelector("[name=closes]").value };
    }
  }
  return config;
}

function renumberServices() {
  form.querySelectorAll("#services tr.service").forEach((row, index) => { row.dataset.path = `services.${index}`; });
}

function labelOf(path) {
  const field = form.querySelector(`.field[data-path="${path.split(".")[0]}"]`);
  const label = field && field.querySelector("label, .label");
  let text = label ? label.textContent.replace("*", "").replace(/\(.*\)/, "").trim() : path;
  const rest = path.split(".").slice(1);
  if (path.startsWith("services.") && rest.length) text += ` ${Number(rest[0]) + 1}` + (rest[1] ? ` (${rest[1].replace("_", " ")})` : "");
  else if (rest.length) text += ` (${rest.join(" ")})`;
  return text;
}

function clearProblems() {
  problems.hidden = true;
  problems.replaceChildren();
  for (const element of form.querySelectorAll(".field-error")) { element.hidden = true; element.textContent = ""; }
  for (const element of form.querySelectorAll(".invalid")) element.classList.remove("invalid");
}

// FastAPI answers 422 with [{loc: ["body", "services", 0, "duration_minutes"], msg: "..."}].
function showProblems(detail) {
  clearProblems();
  const items = Array.isArray(detail) ? detail : [{ loc: [], msg: String(detail) }];
  const list = document.createElement("ul");
  for (const item of items) {
    const path = (item.loc || []).filter((part) => part !== "body").join(".");
    const message = String(item.msg).replace(/^Value error, /, "");
    const entry = document.createElement("li");
    entry.textContent = path ? `${labelOf(path)}: ${message}` : message;
    list.append(entry);
    // Show it at the most precise place the form has for that path.
    let parts = path.split(".");
    while (parts.length) {
      const place = form.querySelector(`[data-path="${parts.join(".")}"]`);
      if (place) {
        place.classList.add("invalid");
        const slot = place.querySelector(".field-error") || place.closest(".field").querySelector(".field-error");
        slot.hidden = false;
        slot.textContent = slot.textContent ? `${slot.textContent} ${message}` : message;
        break;
      }
      parts = parts.slice(0, -1);
    }
  }
  const title = document.createElement("p");
  title.textContent = "Not saved. Please fix:";
  problems.replaceChildren(title, list);
  problems.hidden = false;
  problems.scrollIntoView({ block: "nearest" });
}

async function send(method, url, body) {
  const response = await fetch(url, {
    method, credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  });
  let payload = null;
  try { payload = await response.json(); } catch (error) { payload = { detail: `${response.status} ${response.statusText}` }; }
  return { ok: response.ok, status: response.status, payload };
}

let previewTimer = null;
let previewSeq = 0;
async function refreshPreview() {
  const seq = ++previewSeq;
  const state = document.getElementById("preview-state");
  const result = await send("POST", "/api/admin/instructions-preview", readConfig());
  if (seq !== previewSeq) return; // a newer preview is on its way
  if (result.ok) {
    document.getElementById("preview-greeting").textContent = result.payload.greeting;
    document.getElementById("preview-instructions").textContent = result.payload.instructions;
    state.textContent = "Updates as you type.";
  } else if (result.status === 401) {
    state.textContent = "Your session has ended: log in again.";
  } else {
    state.textContent = "The preview shows the last valid configuration; the form has a value that is not valid yet.";
  }
}
function schedulePreview() { clearTimeout(previewTimer); previewTimer = setTimeout(refreshPreview, 250); }

form.addEventListener("input", schedulePreview);
form.addEventListener("change", schedulePreview);

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  saveStatus.textContent = "Saving…";
  const result = await send("PUT", `/api/admin/businesses/${businessId}/config`, readConfig());
  if (result.ok) {
    clearProblems();
    saveStatus.textContent = "Saved. The next call uses this configuration.";
    schedulePreview();
  } else if (result.status === 401) {
    saveStatus.textContent = "";
    showProblems("Your session has ended: log in again (your changes are still in the form).");
  } else {
    saveStatus.textContent = "";
    showProblems(result.payload.detail);
  }
});

document.getElementById("add-service").addEventListener("click", () => {
  const row = document.getElementById("service-row").content.firstElementChild.cloneNode(true);
  document.getElementById("services").append(row);
  renumberServices();
  row.querySelector("input").focus();
});
form.addEventListener("click", (event) => {
  if (event.target.classList.contains("remove-service")) {
    event.target.closest("tr").remove();
    renumberServices();
    schedulePreview();
  }
});

// The public /demo page lists a business only when an admin opts it in.
const demoEnabled = document.getElementById("demo-enabled");
if (demoEnabled) {
  demoEnabled.addEventListener("change", async () => {
    const status = document.getElementById("demo-status");
    status.textContent = "Saving…";
    const result = await send("PUT", `/api/admin/businesses/${demoEnabled.dataset.businessId}/demo`, { enabled: demoEnabled.checked });
    if (result.ok) {
      status.textContent = result.payload.enabled ? "Listed on /demo." : "Not on /demo.";
    } else {
      demoEnabled.checked = !demoEnabled.checked;
      status.textContent = `Not saved: ${result.payload.detail}`;
    }
  });
}
