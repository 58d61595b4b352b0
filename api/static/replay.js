// "Try on past calls" on the configuration page: the form's draft, replayed on the business's latest
// calls (or a saved set) by POST /api/admin/businesses/{id}/replays; nothing is saved or run.
// Uses readConfig() and send() of config.js, loaded before it.
const replayButton = document.getElementById("replay");
const replayStatus = document.getElementById("replay-status");
const replayResults = document.getElementById("replay-results");

function cell(row, text, tag = "td") {
  const element = document.createElement(tag);
  element.textContent = text;
  row.appendChild(element);
  return element;
}

function toolsOf(tools) {
  return tools.length ? tools.map((t) => `${t.name}(${JSON.stringify(t.arguments)})`).join(", ") : "no tool";
}

function showReplay(call) {
  const section = document.createElement("article");
  section.className = "replay" + (call.tools_differ ? " differs" : "");
  section.dataset.callId = call.call_id;
  const title = document.createElement("h3");
  title.textContent = `Call ${call.call_id.slice(0, 24)}… · ${call.tools_differ ? "tools differ" : "same tools"}`;
  section.appendChild(title);
  const table = document.createElement("table");
  const head = table.createTHead().insertRow();
  for (const name of ["Caller said", "Then", "Now (draft)"]) cell(head, name, "th");
  const body = table.createTBody();
  for (const turn of call.turns) {
    const row = body.insertRow();
    if (turn.tools_differ) row.className = "differs";
    cell(row, turn.caller_text);
    cell(row, `${turn.then_said}\n[${toolsOf(turn.then_tools)}]`).className = "then";
    cell(row, `${turn.now_said}\n[${toolsOf(turn.now_tools)}]`).className = "now";
  }
  section.appendChild(table);
  replayResults.appendChild(section);
}

replayButton.addEventListener("click", async () => {
  replayStatus.textContent = "Replaying…";
  replayResults.replaceChildren();
  const setName = document.getElementById("replay-set").value.trim();
  const result = await send("POST", `/api/admin/businesses/${businessId}/replays`, {
    config: readConfig(), set_name: setName || null,
  });
  if (!result.ok) {
    replayStatus.textContent = result.status === 401 ? "Your session has ended: log in again." : "";
    if (result.status !== 401) showProblems(result.payload.detail);
    return;
  }
  const calls = result.payload.calls;
  const brain = result.payload.model ? `the LLM ${result.payload.model}` : "the offline responder";
  const differing = calls.filter((c) => c.tools_differ).length;
  replayStatus.textContent = `${calls.length} calls replayed with ${brain}; tools differ in ${differing}.`;
  calls.forEach(showReplay);
});
