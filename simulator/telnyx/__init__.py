"""A stand-in for Telnyx Call Control, so CloudGreet can take phone calls without a phone network.

Towards our API it behaves like Telnyx does: it places calls by POSTing signed webhooks
(bodies shaped like real traffic, see tests/fixtures/telnyx-webhooks), it serves the
Call Control command API under /v2 that the real `telnyx` SDK talks to, and it plays the
person on the line from a `CallScript`. It also reproduces the faults of real traffic
(at-least-once, reordered and late webhooks, failing commands, calls that ended) because
those are exactly what a durable call workflow must survive.

Beyond the inbound call it plays the other legs our app creates: escalation transfers
(`transfer`: a second leg in the same call session, answered, unanswered or busy as the
call's script says), call-backs (`POST /v2/calls`, with answering-machine detection, picked
up by a scripted person, a voicemail box, nobody, or a busy line) and SMS (`POST
/v2/messages`, recorded, idempotent on the Idempotency-Key header).

Everything of one simulator runs on one asyncio event loop. Import from the module that
holds what you need:

- `server`: `TelnyxSimulatorServer` (in a thread, for tests) and `run_simulator` (the CLI's);
- `simulator`: `TelnyxSimulator`, the network: places, dials and routes calls, sends SMS;
- `app`: `create_simulator_app`, its HTTP API (/v2 for our app, /simulator for people and tests);
- `records`: `SimulatedCall` and what it records (commands, conversation, deliveries, timings);
- `signing`: the Ed25519 key pair and webhook signatures;
- `leg`: one call leg, which runs on `caller` (the person speaking), `callee` (ringing, voicemail,
  answering-machine detection), `playback` (the agent's sentences), `transfers` and `outbox`
  (its webhooks); `webhook_bodies` and `commands` hold Telnyx's wire format.
"""
