/* CloudGreet's browser voice agent: OpenAI Realtime over WebRTC, with the phone brain as fallback.
 *
 * start():  microphone, RTCPeerConnection with the data channel "oai-events", and the SDP offer
 *           to POST /api/ai/realtime-session: the CloudGreet server creates the call with its own
 *           key and answers with the SDP answer. The page never holds a key or a token.
 *           A failed attempt is retried (RETRY.attempts, exponential backoff); then the page gets an
 *           error with a reconnect button, and the agent falls back by itself to the web channel
 *           (/api/web-calls: the phone brain), where typed or recognised words get spoken replies.
 * Function calls of the Realtime model are run by the server over the call's control channel; the
 * page only shows them (and their results, as the function_call_output items arrive). The server
 * also ends the call: at the session cap (after a goodbye) and after the end_call tool.
 * The service refuses a response.create while a response is active
 * (conversation_already_has_active_response), so requestResponse() holds one back until the
 * active response is done: typing during a reply is answered after it.
 *
 * The page listens through `on`: status(text, kind), orb(state), line(id, role, text, final),
 * tool(call), failed(message), fallback(message), ready(info), ended(reason), timer(secondsLeft).
 */
"use strict";

(function (global) {
  const RETRY = { attempts: 3, baseDelayMs: 500, connectTimeoutMs: 10000, iceGatheringMs: 0 };

  class ConnectError extends Error {
    constructor(message, retryable = true) {
      super(message);
      this.retryable = retryable;
    }
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function withTimeout(promise, ms, message) {
    let timer;
    const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject(new ConnectError(message)), ms); });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  function iceGathered(pc, ms) {
    // /realtime/calls takes no trickled candidates. OpenAI's own example posts the offer at once:
    // the server learns the browser's address from its connectivity checks (so does aiortc), and
    // waiting for gathering cost ~125 ms here. A server that needs the candidates in the offer
    // can have them by raising RETRY.iceGatheringMs.
    if (ms <= 0 || pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => { if (pc.iceGatheringState === "complete") { pc.removeEventListener("icegatheringstatechange", done); resolve(); } };
      pc.addEventListener("icegatheringstatechange", done);
      setTimeout(resolve, ms);
    });
  }

  async function problem(response) {
    // FastAPI says {"detail": "..."}; OpenAI says {"error": {"message": "..."}}.
    try {
      const body = await response.json();
      if (typeof body.detail === "string") return body.detail;
      if (Array.isArray(body.detail)) return body.detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
      if (body.error && body.error.message) return body.error.message;
    } catch (ignored) { /* not JSON */ }
    return response.statusText || `HTTP ${response.status}`;
  }

  async function postJSON(url, body, headers = {}) {
    return fetch(url, { method: "POST", headers: { "Content-Type": "application/json", ...headers }, body: JSON.stringify(body) });
  }

  class VoiceAgent {
    constructor(options) {
      this.options = options; // {businessId, voice, language, config, on, audio}
      this.on = options.on || {};
      this.mode = "idle"; // idle | connecting | realtime | fallback | ended
      this.session = null;
      this.pc = null;
      this.dc = null;
      this.mic = null; // MediaStream, false when there is none, null before asking
      this.webCall = null;
      this.attempts = 0;
      this.timings = {};
      this.toolCalls = [];
      this.audioPlaying = false;
      this.endAfterResponse = false;
      this.responseActive = false; // from our response.create (or the server's response.created) to response.done
      this.pendingResponse = null; // the response.create held back meanwhile
      this.generation = 0; // bumps at every hang-up, so late callbacks of an old connection are ignored
    }

    emit(name, ...args) {
      const handler = this.on[name];
      if (handler) {
        try { handler(...args); } catch (error) { console.error(error); }
      }
    }

    setMode(mode) {
      this.mode = mode;
      this.emit("mode", mode);
    }

    // --- starting ---------------------------------------------------------------------------

    async start() {
      if (this.mode !== "idle" && this.mode !== "ended") return;
      const generation = ++this.generation;
      this.timings = { pressedAt: performance.now() };
      this.setMode("connecting");
      this.emit("orb", "connecting");
      const connected = await this.connectRealtime(generation);
      if (!connected && generation === this.generation) await this.startFallback(generation);
    }

    async connectRealtime(generation) {
      let lastError = null;
      for (let attempt = 1; attempt <= RETRY.attempts; attempt += 1) {
        if (generation !== this.generation) return false;
        this.attempts = attempt;
        this.emit("status", attempt === 1 ? "Connecting to the voice assistant…" : `Connection failed; trying again (attempt ${attempt} of ${RETRY.attempts})…`, attempt === 1 ? "connecting" : "retrying");
        try {
          await this.connectOnce(generation);
          return true;
        } catch (error) {
          this.closePeer();
          lastError = error instanceof ConnectError ? error : new ConnectError(error.message || String(error));
          console.warn("Realtime connection attempt failed:", lastError.message);
          if (!lastError.retryable) break;
          if (attempt < RETRY.attempts) await sleep(RETRY.baseDelayMs * 2 ** (attempt - 1));
        }
      }
      if (generation !== this.generation) return false;
      this.emit("failed", `Could not connect to the voice assistant: ${lastError.message}`);
      return false;
    }

    async createSession(offer) {
      const body = { business_id: this.options.businessId, sdp: offer };
      if (this.options.voice) body.voice = this.options.voice;
      if (this.options.language) body.language = this.options.language;
      if (this.options.config) body.config = this.options.config;
      let response;
      try {
        response = await postJSON("/api/ai/realtime-session", body);
      } catch (error) {
        throw new ConnectError(`the CloudGreet server could not be reached (${error.message})`);
      }
      if (!response.ok) {
        // 4xx (bad request, unknown business, login, origin, rate limit, minutes) and 503 (no OpenAI key,
        // the day's minutes used) do not get better by retrying.
        const retryable = response.status >= 500 && response.status !== 503;
        throw new ConnectError(await problem(response), retryable);
      }
      return response.json();
    }

    async openMic() {
      if (this.mic !== null) return;
      try {
        this.mic = await navigator.mediaDevices.getUserMedia({ audio: true });
      } catch (error) {
        this.mic = false;
        this.emit("status", "No microphone: you can type instead.", "connecting");
      }
    }

    async connectOnce(generation) {
      await this.openMic();
      this.timings.micAt = performance.now();
      if (generation !== this.generation) throw new ConnectError("hung up", false);

      const pc = (this.pc = new RTCPeerConnection());
      pc.ontrack = (event) => { if (this.options.audio) this.options.audio.srcObject = event.streams[0]; };
      if (this.mic) {
        for (const track of this.mic.getAudioTracks()) pc.addTrack(track, this.mic);
      } else {
        pc.addTransceiver("audio", { direction: "recvonly" });
      }
      const dc = (this.dc = pc.createDataChannel("oai-events"));
      const ready = new Promise((resolve, reject) => { this.readyWaiter = { resolve, reject }; });
      ready.catch(() => {}); // a hang-up rejects it while nobody waits any more
      dc.onmessage = (message) => this.onServerEvent(message.data);
      dc.onclose = () => { if (this.dc === dc && this.mode === "realtime") this.connectionLost("the voice connection closed"); };
      pc.onconnectionstatechange = () => {
        if (this.pc !== pc) return;
        if (pc.connectionState === "failed") {
          if (this.mode === "realtime") this.connectionLost("the voice connection failed");
          else if (this.readyWaiter) this.readyWaiter.reject(new ConnectError("the WebRTC connection failed"));
        }
      };

      await pc.setLocalDescription(await pc.createOffer());
      await iceGathered(pc, RETRY.iceGatheringMs);
      this.timings.offerAt = performance.now();
      // The server creates the call with the offer, and answers with the SDP answer.
      this.session = await this.createSession(pc.localDescription.sdp);
      this.timings.sessionAt = this.timings.sessionAt || performance.now();
      this.timings.answerAt = performance.now();
      if (generation !== this.generation) { this.endServerCall(); throw new ConnectError("hung up", false); }
      try {
        await pc.setRemoteDescription({ type: "answer", sdp: this.session.sdp });
        await withTimeout(ready, RETRY.connectTimeoutMs, "the voice session did not start in time");
      } catch (error) {
        this.endServerCall(); // a call the page will not use: ended now, not at its cap
        throw error;
      }
      this.readyWaiter = null;
      this.connected(generation);
    }

    endServerCall() {
      // The page's Hang up (or an attempt given up): the server ends the call and gives its minutes back.
      const session = this.session;
      if (!session || !session.call_id) return;
      fetch(`/api/ai/realtime-session/${encodeURIComponent(session.call_id)}/hangup`, {
        method: "POST",
        keepalive: true,
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ call_token: session.call_token }),
      }).catch(() => {});
    }

    connected(generation) {
      this.timings.readyAt = performance.now();
      this.timings.readyMs = this.timings.readyAt - this.timings.pressedAt;
      this.setMode("realtime");
      this.emit("status", `Connected to ${this.session.business_name}: speak now`, "connected");
      this.emit("orb", "listening");
      this.emit("ready", { session: this.session, readyMs: this.timings.readyMs, attempts: this.attempts });
      this.startCap(generation, this.session.max_session_seconds);
      // As on the phone, the receptionist speaks first.
      this.requestResponse({ instructions: `Greet the caller with exactly these words: "${this.session.greeting}"` });
    }

    startCap(generation, seconds) {
      // The server says goodbye and hangs up at the cap; the page only shows the time left.
      const endsAt = (this.capEndsAt = Date.now() + seconds * 1000);
      this.capSeconds = seconds;
      clearInterval(this.capTimer);
      const tick = () => {
        if (generation !== this.generation) { clearInterval(this.capTimer); return; }
        const left = Math.max(0, Math.round((endsAt - Date.now()) / 1000));
        this.emit("timer", left);
        // Should the server's hang-up never arrive, the page stops after a grace period.
        if (Date.now() > endsAt + 30000) this.hangUp(this.capReason());
      };
      tick();
      this.capTimer = setInterval(tick, 1000);
    }

    capReason() {
      return `The demo ended after its limit of ${Math.round(this.capSeconds / 60 * 10) / 10} minutes.`;
    }

    connectionLost(reason) {
      // The server ends the call at the cap and after the end_call tool: that is no failure.
      if (this.capEndsAt && Date.now() >= this.capEndsAt - 2000) this.hangUp(this.capReason());
      else if (this.endAfterResponse) this.hangUp("The assistant ended the conversation.");
      else this.hangUp(`Disconnected: ${reason}. Press Reconnect to start again.`, true);
    }

    // --- the Realtime session ---------------------------------------------------------------

    send(event) {
      if (this.dc && this.dc.readyState === "open") this.dc.send(JSON.stringify(event));
    }

    requestResponse(options) {
      if (this.responseActive) {
        // One response answers everything added meanwhile; the first request's options win.
        if (!this.pendingResponse) this.pendingResponse = options || {};
        return;
      }
      this.responseActive = true;
      this.lastResponse = options || {};
      this.responseEventId = `evt_response_${(this.responseCount = (this.responseCount || 0) + 1)}`;
      const event = { type: "response.create", event_id: this.responseEventId };
      if (options) event.response = options;
      this.send(event);
    }

    responseFinished() {
      this.responseActive = false;
      const pending = this.pendingResponse;
      this.pendingResponse = null;
      if (pending) this.requestResponse(Object.keys(pending).length ? pending : undefined);
    }

    onServerEvent(data) {
      let event;
      try { event = JSON.parse(data); } catch (error) { return; }
      this.emit("event", event);
      switch (event.type) {
        case "session.created":
          if (this.readyWaiter) this.readyWaiter.resolve();
          break;
        case "input_audio_buffer.speech_started":
          this.emit("orb", "listening");
          break;
        case "response.created":
          this.responseActive = true; // server VAD starts responses too
          if (!this.audioPlaying) this.emit("orb", "thinking");
          break;
        case "input_audio_buffer.speech_stopped":
        case "input_audio_buffer.committed":
          if (!this.audioPlaying) this.emit("orb", "thinking");
          break;
        case "conversation.item.added":
        case "conversation.item.created": {
          const item = event.item || {};
          if (item.type === "function_call_output") this.toolAnswered(item);
          if (item.type === "message" && item.role === "user") {
            const typed = (item.content || []).filter((p) => p.type === "input_text").map((p) => p.text).join(" ");
            this.emit("line", item.id, "user", typed || "…", Boolean(typed));
          }
          break;
        }
        case "conversation.item.input_audio_transcription.delta":
          this.emit("line", event.item_id, "user", event.delta, false, true);
          break;
        case "conversation.item.input_audio_transcription.completed":
          this.emit("line", event.item_id, "user", (event.transcript || "").trim() || "(inaudible)", true);
          break;
        case "response.output_audio_transcript.delta":
        case "response.output_text.delta":
          this.emit("orb", "speaking");
          this.emit("line", event.item_id, "agent", event.delta, false, true);
          break;
        case "response.output_audio_transcript.done":
        case "response.output_text.done":
          this.emit("line", event.item_id, "agent", event.transcript !== undefined ? event.transcript : event.text, true);
          break;
        case "response.function_call_arguments.done":
          (this.timings.toolAskedAt = this.timings.toolAskedAt || {})[event.call_id] = performance.now();
          this.emit("tool", { call_id: event.call_id, name: event.name, arguments: event.arguments, status: "running" });
          break;
        case "output_audio_buffer.started":
          this.timings.firstAudioAt = this.timings.firstAudioAt || performance.now();
          this.audioPlaying = true;
          this.emit("orb", "speaking");
          break;
        case "output_audio_buffer.stopped":
        case "output_audio_buffer.cleared":
          this.audioPlaying = false;
          this.emit("orb", "listening");
          break;
        case "response.done":
          this.responseFinished();
          this.responseDone(event.response || {});
          break;
        case "error":
          if (event.error && event.error.code === "conversation_already_has_active_response") {
            // A response we did not know of (server VAD's) was active: ask again after it.
            if (!this.pendingResponse) this.pendingResponse = this.lastResponse || {};
            this.responseActive = true;
            break;
          }
          // Our response.create itself was refused: no response is coming for it.
          if (event.error && event.error.event_id && event.error.event_id === this.responseEventId) this.responseFinished();
          this.emit("status", `The voice assistant reported: ${(event.error && event.error.message) || "an error"}`, "connected");
          break;
        default:
          break;
      }
    }

    responseDone(response) {
      const calls = (response.output || []).filter((item) => item.type === "function_call");
      if (calls.length > 0) {
        // The server runs them over the call's control channel, then asks for the answer.
        this.emit("orb", "thinking");
        for (const call of calls) {
          if (call.name === "end_call") this.endAfterResponse = true;
          this.pendingTools = this.pendingTools || {};
          this.pendingTools[call.call_id] = { call_id: call.call_id, name: call.name, arguments: call.arguments, status: "running" };
        }
        return;
      }
      if (!this.audioPlaying) this.emit("orb", "listening");
    }

    toolAnswered(item) {
      const asked = (this.timings.toolAskedAt || {})[item.call_id];
      if (asked) (this.timings.toolMs = this.timings.toolMs || []).push(performance.now() - asked);
      const pending = (this.pendingTools || {})[item.call_id];
      const record = Object.assign(pending || { call_id: item.call_id, name: "", arguments: "" }, { output: item.output, status: "done" });
      if (this.pendingTools) delete this.pendingTools[item.call_id];
      this.toolCalls.push(record);
      this.emit("tool", record);
    }

    // --- words from the page ----------------------------------------------------------------

    async sendText(text) {
      text = (text || "").trim();
      if (!text) return;
      if (this.mode === "realtime") {
        this.send({ type: "conversation.item.create", item: { type: "message", role: "user", content: [{ type: "input_text", text }] } });
        this.requestResponse();
      } else if (this.mode === "fallback") {
        await this.webTurn(text);
      }
    }

    // --- the fallback: the phone brain over the web channel --------------------------------

    async startFallback(generation) {
      this.closePeer();
      this.setMode("fallback");
      const draft = this.options.config ? " It uses the business's saved configuration, not your draft." : "";
      this.emit("fallback", `Switched to the phone assistant over the web, because the voice connection is unavailable.${draft} Type your question (or press Speak); replies are read aloud.`);
      this.emit("status", "Connecting to the phone assistant…", "fallback");
      let response;
      try {
        response = await postJSON("/api/web-calls", { business_id: this.options.businessId });
      } catch (error) {
        response = null;
      }
      if (generation !== this.generation) return;
      if (!response || !response.ok) {
        const reason = response ? await problem(response) : "the server could not be reached";
        this.setMode("ended");
        this.emit("orb", "idle");
        this.emit("status", `The phone assistant is unavailable too: ${reason}`, "error");
        return;
      }
      this.webCall = await response.json();
      this.timings.fallbackReadyMs = performance.now() - this.timings.pressedAt;
      this.emit("status", `Talking to the phone assistant of ${this.webCall.business_name} (web channel)`, "fallback");
      this.emit("line", `web-greeting-${this.webCall.call_id}`, "agent", this.webCall.greeting, true);
      this.speak(this.webCall.greeting);
    }

    async webTurn(text) {
      const call = this.webCall;
      if (!call) return;
      this.turnIndex = (this.turnIndex || 0) + 1;
      const id = `web-${call.call_id}-${this.turnIndex}`;
      this.emit("line", `${id}-you`, "user", text, true);
      this.emit("orb", "thinking");
      let response;
      try {
        // The conversation token proves the conversation is this page's: without it the API answers 404.
        // The turn's key: should this request be sent again (a proxy's retry), the API takes the words once.
        response = await postJSON(`/api/web-calls/${encodeURIComponent(call.call_id)}/turns`, { text, conversation_token: call.conversation_token }, { "Idempotency-Key": id });
      } catch (error) {
        this.emit("status", "The phone assistant could not be reached; try again.", "error");
        this.emit("orb", "listening");
        return;
      }
      if (this.webCall !== call) return;
      if (!response.ok) {
        this.emit("status", `The phone assistant could not answer: ${await problem(response)}`, "error");
        this.emit("orb", "listening");
        return;
      }
      const turn = await response.json();
      this.emit("line", `${id}-agent`, "agent", turn.reply, true);
      this.emit("turn", turn);
      this.speak(turn.reply);
      if (turn.ended) {
        this.webCall = null; // the workflow has hung up itself
        this.hangUp("The assistant ended the conversation.");
      }
    }

    speak(text) {
      if (!("speechSynthesis" in global) || !text) return;
      const utterance = new SpeechSynthesisUtterance(text);
      if (this.options.language) utterance.lang = this.options.language;
      const quiet = () => { clearTimeout(this.speechGuard); if (this.mode === "fallback") this.emit("orb", "listening"); };
      utterance.onend = quiet;
      utterance.onerror = quiet;
      this.emit("orb", "speaking");
      // Some browsers (headless ones) never report the end of speech: do not stay "speaking".
      this.speechGuard = setTimeout(quiet, 800 + 70 * text.length);
      global.speechSynthesis.speak(utterance);
    }

    recognition() {
      const Recognition = global.SpeechRecognition || global.webkitSpeechRecognition;
      return Recognition ? new Recognition() : null;
    }

    listen() {
      const recognition = this.recognition();
      if (!recognition || this.mode !== "fallback") return false;
      recognition.lang = this.options.language || "en-US";
      recognition.interimResults = false;
      recognition.maxAlternatives = 1;
      recognition.onresult = (event) => this.sendText(event.results[0][0].transcript);
      recognition.onerror = (event) => this.emit("status", `Speech recognition failed (${event.error}); type instead.`, "fallback");
      recognition.onend = () => this.emit("orb", "listening");
      this.emit("orb", "listening");
      recognition.start();
      return true;
    }

    // --- ending -----------------------------------------------------------------------------

    closePeer() {
      this.readyWaiter = null;
      if (this.dc) { try { this.dc.close(); } catch (ignored) { /* closed */ } }
      if (this.pc) { try { this.pc.close(); } catch (ignored) { /* closed */ } }
      this.dc = null;
      this.pc = null;
      this.audioPlaying = false;
      this.responseActive = false;
      this.pendingResponse = null;
    }

    hangUp(reason = "You hung up.", failed = false) {
      this.generation += 1;
      if (this.mode === "realtime" || this.mode === "connecting") this.endServerCall();
      clearInterval(this.capTimer);
      clearTimeout(this.speechGuard);
      if (this.readyWaiter) { this.readyWaiter.reject(new ConnectError("hung up", false)); this.readyWaiter = null; }
      this.closePeer();
      if (this.mic) { this.mic.getTracks().forEach((track) => track.stop()); }
      this.mic = null;
      this.session = null;
      this.endAfterResponse = false;
      this.pendingTools = {};
      this.capEndsAt = null;
      if (this.webCall) {
        const call = this.webCall;
        this.webCall = null;
        fetch(`/api/web-calls/${encodeURIComponent(call.call_id)}/hangup`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ conversation_token: call.conversation_token }),
          keepalive: true, // the page may be closing
        }).catch(() => {});
      }
      if ("speechSynthesis" in global) global.speechSynthesis.cancel();
      this.setMode("ended");
      this.emit("orb", "idle");
      this.emit("timer", null);
      this.emit("ended", reason, failed);
    }

    async reconnect() {
      if (this.mode !== "idle" && this.mode !== "ended") this.hangUp("Reconnecting…");
      await this.start();
    }
  }

  global.CloudGreet = { VoiceAgent, RETRY };
})(window);
