"""A fake OpenAI-compatible server, so tests, benchmarks and the local stack never need OpenAI.

It is a real HTTP server speaking the real wire protocol (JSON and Server-Sent Events), so the
production code path -- the official ``openai`` SDK, its retries, timeouts and stream parsing --
is exercised unchanged; only the model is fake. Replies are deterministic (derived from the last
user message or from configured rules), and knobs inject latency, failures and hangs so the
receptionist's time-to-first-sentence and its failure handling can be measured and tested. It
also fakes the Realtime API over WebRTC for the browser demo.

In-process code reaches the state through ``app.state.fake`` (or ``FakeOpenAIServer.fake``);
out-of-process code uses the ``/_fake/...`` control endpoints. Import from the module that holds
what you need:

- ``server``: ``FakeOpenAIServer`` (in a thread, for tests) and ``run_fake_openai`` (the CLI's);
- ``behaviour``: ``FakeLLMBehaviour`` and its rules (``FakeReplyRule``, ``FakeToolCall``);
- ``state``: ``FakeOpenAI``, the behaviour and the request log (``FakeRequestRecord``);
- ``app``: ``create_fake_openai_app``, which puts together ``chat_completions`` (and the models),
  ``realtime_api`` (client secrets and WebRTC calls, answered by a ``realtime_peer``; its state
  and ``FakeRealtimeBehaviour`` are in ``realtime_state``) and the control endpoints.
"""
