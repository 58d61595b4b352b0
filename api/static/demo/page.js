/* The demo pages' glue: the orb, the status, the reconnect offer, the transcript, typing, and on
 * /test-agent-simple the configuration (saved or a checked draft) and the tool calls. */
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const el = {
    business: $("business"), orb: $("orb"), orbLabel: $("orb-label"), status: $("status"), timer: $("timer"),
    error: $("error"), errorText: $("error-text"), reconnect: $("reconnect"), notice: $("notice"), hangup: $("hangup"),
    transcript: $("transcript"), say: $("say"), sayText: $("say-text"), saySend: $("say-send"), listen: $("listen"),
    audio: $("agent-audio"), tools: $("tools"),
    // /test-agent-simple only
    draft: $("draft"), example: $("example"), configJson: $("config-json"), check: $("check"),
    configErrors: $("config-errors"), configOk: $("config-ok"), voice: $("voice"), language: $("language"),
    preview: $("preview"), previewGreeting: $("preview-greeting"), previewInstructions: $("preview-instructions"),
  };
  const ORB_LABELS = {
    idle: "Press the orb to talk", connecting: "Connecting…", listening: "Listening", thinking: "Thinking…", speaking: "Speaking",
  };
  let agent = null;

  function show(node, visible) { if (node) node.hidden = !visible; }

  function setOrb(state) {
    el.orb.dataset.state = state;
    el.orbLabel.textContent = ORB_LABELS[state] || state;
    el.orb.setAttribute("aria-label", state === "idle" ? "Start talking" : ORB_LABELS[state]);
  }

  function setStatus(text, kind) {
    el.status.textContent = text;
    el.status.dataset.kind = kind;
  }

  function setMode(mode) {
    document.body.dataset.mode = mode;
    const talking = mode === "realtime" || mode === "fallback";
    el.sayText.disabled = !talking;
    el.saySend.disabled = !talking;
    show(el.hangup, mode !== "idle" && mode !== "ended");
    show(el.listen, mode === "fallback" && Boolean(window.SpeechRecognition || window.webkitSpeechRecognition));
    if (el.business) el.business.disabled = !(mode === "idle" || mode === "ended");
  }

  // --- transcript -----------------------------------------------------------------------------

  function clearList(list) {
    list.innerHTML = "";
  }

  function line(id, role, text, final, append) {
    const empty = el.transcript.querySelector(".empty");
    if (empty) empty.remove();
    let item = el.transcript.querySelector(`li[data-id="${CSS.escape(id)}"]`);
    if (!item) {
      item = document.createElement("li");
      item.className = "line";
      item.dataset.id = id;
      item.dataset.role = role;
      const who = document.createElement("span");
      who.className = "who";
      who.textContent = role === "user" ? "You" : "Agent";
      const words = document.createElement("span");
      words.className = "text";
      item.append(who, words);
      el.transcript.append(item);
    }
    const words = item.querySelector(".text");
    if (append && item.dataset.final !== "true") {
      words.textContent = (words.textContent === "…" ? "" : words.textContent) + text;
    } else if (!append) {
      words.textContent = text;
    }
    if (final) item.dataset.final = "true";
    el.transcript.scrollTop = el.transcript.scrollHeight;
  }

  function toolCall(call) {
    if (!el.tools) return;
    const empty = el.tools.querySelector(".empty");
    if (empty) empty.remove();
    let item = el.tools.querySelector(`li[data-call="${CSS.escape(call.call_id)}"]`);
    if (!item) {
      item = document.createElement("li");
      item.dataset.call = call.call_id;
      item.innerHTML = '<code class="tool-name"></code> <code class="tool-args"></code><p class="tool-output"></p>';
      el.tools.append(item);
    }
    item.dataset.status = call.status;
    item.dataset.ok = String(call.ok);
    if (call.name) item.querySelector(".tool-name").textContent = call.name;
    if (call.name) item.querySelector(".tool-args").textContent = call.arguments || "{}";
    item.querySelector(".tool-output").textContent = call.status === "done" ? `→ ${call.output}` : "running…";
  }

  // --- the configuration (/test-agent-simple) ------------------------------------------------

  function draftMode() {
    const chosen = document.querySelector('input[name="source"]:checked');
    return Boolean(chosen && chosen.value === "draft");
  }

  function showProblems(problems) {
    clearList(el.configErrors);
    for (const problem of problems) {
      const item = document.createElement("li");
      item.textContent = problem.field ? `${problem.field}: ${problem.message}` : problem.message;
      el.configErrors.append(item);
    }
    show(el.configErrors, problems.length > 0);
  }

  async function checkDraft() {
    show(el.configOk, false);
    let config;
    try {
      config = JSON.parse(el.configJson.value);
    } catch (error) {
      showProblems([{ field: "", message: `The configuration is not valid JSON: ${error.message}` }]);
      return null;
    }
    let response;
    try {
      response = await fetch("/api/ai/check-config", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ config }),
      });
    } catch (error) {
      showProblems([{ field: "", message: "The server could not be reached to check the configuration." }]);
      return null;
    }
    const body = await response.json();
    if (!response.ok) {
      showProblems(body.errors || [{ field: "", message: body.detail || "The configuration was refused." }]);
      show(el.preview, false);
      return null;
    }
    showProblems([]);
    el.configOk.textContent = `The configuration is valid: ${body.name} (voice ${body.voice}).`;
    show(el.configOk, true);
    el.previewGreeting.textContent = body.greeting;
    el.previewInstructions.textContent = body.instructions;
    show(el.preview, true);
    return config;
  }

  function setUpTester() {
    if (!el.configJson) return;
    const examples = JSON.parse(document.getElementById("examples").textContent);
    for (const name of Object.keys(examples)) {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = name;
      el.example.append(option);
    }
    el.example.addEventListener("change", () => {
      if (el.example.value) el.configJson.value = JSON.stringify(examples[el.example.value], null, 2);
    });
    const first = Object.keys(examples)[0];
    if (first) el.configJson.value = JSON.stringify(examples[first], null, 2);
    document.querySelectorAll('input[name="source"]').forEach((radio) => {
      radio.addEventListener("change", () => show(el.draft, draftMode()));
    });
    el.check.addEventListener("click", checkDraft);
  }

  // --- the agent --------------------------------------------------------------------------

  async function start() {
    if (agent && agent.mode !== "idle" && agent.mode !== "ended") return;
    if (!el.business || !el.business.value) return;
    let config = null;
    if (draftMode()) {
      config = await checkDraft();
      if (!config) { setStatus("Fix the configuration first.", "error"); return; }
    }
    show(el.error, false);
    show(el.notice, false);
    window.CloudGreet.CallMe.withdraw();
    clearList(el.transcript);
    if (el.tools) clearList(el.tools);
    agent = new window.CloudGreet.VoiceAgent({
      businessId: Number(el.business.value),
      voice: el.voice ? el.voice.value || null : null,
      language: el.language ? el.language.value.trim() || null : null,
      config,
      audio: el.audio,
      on: {
        mode: setMode,
        orb: setOrb,
        status: setStatus,
        line,
        tool: toolCall,
        ready: () => show(el.error, false),
        failed: (message) => {
          el.errorText.textContent = message;
          show(el.error, true);
          window.CloudGreet.CallMe.offer(Number(el.business.value), el.error); // beside the web channel: call_me.js
        },
        fallback: (message) => {
          el.notice.textContent = message;
          show(el.notice, true);
        },
        timer: (left) => {
          show(el.timer, left !== null);
          if (left !== null) el.timer.textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")} left in this demo`;
        },
        ended: (reason, failed) => {
          setStatus(reason, failed ? "error" : "ended");
          if (failed) { el.errorText.textContent = reason; show(el.error, true); }
        },
      },
    });
    window.cloudgreetDemo.agent = agent;
    await agent.start();
  }

  el.orb.addEventListener("click", start);
  el.hangup.addEventListener("click", () => agent && agent.hangUp());
  el.reconnect.addEventListener("click", async () => {
    show(el.error, false);
    if (agent) agent.hangUp("Reconnecting…");
    await start();
  });
  el.say.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = el.sayText.value;
    el.sayText.value = "";
    if (agent) agent.sendText(text);
  });
  el.listen.addEventListener("click", () => agent && agent.listen());
  setUpTester();

  // For tests and benchmarks: the agent (tests speak by sending audio with agent.send).
  window.cloudgreetDemo = {
    agent: null,
  };
})();
