// The "Add a business" form: POST /api/admin/businesses, then the new business's configuration page.
"use strict";
(() => {
  const form = document.getElementById("new-business-form");
  const problems = document.getElementById("new-business-problems");

  function show(detail) {
    const items = Array.isArray(detail) ? detail : [{ msg: detail }];
    const list = document.createElement("ul");
    for (const item of items) {
      const entry = document.createElement("li");
      const field = (item.loc || []).filter((part) => part !== "body").join(".");
      const message = String(item.msg).replace(/^Value error, /, "");
      entry.textContent = field ? `${field}: ${message}` : message;
      list.append(entry);
    }
    const title = document.createElement("p");
    title.textContent = "Not added. Please fix:";
    problems.replaceChildren(title, list);
    problems.hidden = false;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {};
    for (const [name, value] of new FormData(form)) {
      if (String(value).trim()) body[name] = String(value).trim();
    }
    const response = await fetch("/api/admin/businesses", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    });
    let payload = null;
    try { payload = await response.json(); } catch (error) { payload = { detail: `${response.status} ${response.statusText}` }; }
    if (response.ok) {
      window.location.assign(`/admin/businesses/${payload.id}/config`);
    } else if (response.status === 401) {
      show("Your session has ended: log in again.");
    } else {
      show(payload.detail);
    }
  });
})();
