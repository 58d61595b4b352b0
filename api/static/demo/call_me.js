/* "Call me": when the voice connection cannot be made, the visitor may have the business's
 * phone line call them instead (POST /api/ai/call-me), beside the web channel fallback.
 *
 * CloudGreet.CallMe.offer(businessId, after) asks the API whether this business can call
 * (GET /api/ai/call-me/{id}: it needs a phone number and a Telnyx account) and, if so, shows a
 * small form after the element `after`: the number, and the consent box the API insists on.
 * CloudGreet.CallMe.withdraw() removes it (a new connection attempt). The API checks the number
 * (its country code, no premium-rate or short numbers) and its limits; its refusals are
 * sentences, shown as they are.
 */
"use strict";

(function (global) {
  const FORM_ID = "call-me";
  let offered = 0; // bumps at every offer/withdraw, so a late answer of an old offer is ignored

  function node(tag, attributes, text) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) element.setAttribute(name, value);
    if (text) element.textContent = text;
    return element;
  }

  async function reason(response) {
    try {
      const body = await response.json();
      if (typeof body.detail === "string") return body.detail;
    } catch (ignored) { /* not JSON */ }
    return response.statusText || `HTTP ${response.status}`;
  }

  function build(businessId, availability) {
    const form = node("form", { id: FORM_ID, class: "call-me", autocomplete: "on", "aria-label": "Call me" });
    form.append(node("h2", {}, "Or we call your phone"));
    form.append(node("p", { class: "call-me-hint" }, `The receptionist calls you now from the business's number, with its saved configuration (numbers with country code ${availability.country_codes.join(" or ")}).`));
    const row = node("div", { class: "call-me-row" });
    const label = node("label", { for: "call-me-number" }, "Your phone number");
    const input = node("input", { id: "call-me-number", name: "phone_number", type: "tel", maxlength: "40", placeholder: "+1 212 555 0123", autocomplete: "tel", required: "" });
    row.append(label, input);
    const consent = node("label", { class: "call-me-consent" });
    const box = node("input", { id: "call-me-consent", type: "checkbox", name: "consent" });
    consent.append(box, document.createTextNode(` ${availability.consent}`));
    const send = node("button", { type: "submit", id: "call-me-send" }, "Call me");
    const status = node("p", { id: "call-me-status", class: "call-me-status", role: "status" });
    form.append(row, consent, send, status);

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      send.disabled = true;
      status.dataset.kind = "pending";
      status.textContent = "Asking for the call…";
      let response;
      try {
        response = await fetch("/api/ai/call-me", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ business_id: businessId, phone_number: input.value, consent: box.checked }),
        });
      } catch (error) {
        response = null;
      }
      if (response && response.ok) {
        const body = await response.json();
        status.dataset.kind = "calling";
        status.textContent = body.message;
        return; // one call per request: the button stays off
      }
      status.dataset.kind = "error";
      status.textContent = response ? await reason(response) : "The server could not be reached; try again.";
      send.disabled = false;
    });
    return form;
  }

  async function offer(businessId, after) {
    withdraw();
    const mine = offered;
    let availability;
    try {
      const response = await fetch(`/api/ai/call-me/${encodeURIComponent(businessId)}`);
      if (!response.ok) return;
      availability = await response.json();
    } catch (error) {
      return;
    }
    // Not offered where it cannot work (no phone number, no Telnyx account), nor after a newer attempt.
    if (!availability.available || mine !== offered || !after || !after.parentNode) return;
    after.after(build(businessId, availability));
  }

  function withdraw() {
    offered += 1;
    const form = document.getElementById(FORM_ID);
    if (form) form.remove();
  }

  global.CloudGreet = global.CloudGreet || {};
  global.CloudGreet.CallMe = { offer, withdraw };
})(window);
