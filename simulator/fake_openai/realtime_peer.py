"""The fake model's side of one WebRTC call of OpenAI's GA Realtime API.

An aiortc `RTCPeerConnection` answers the browser's SDP offer, accepts the data channel
"oai-events" and carries a `RealtimeConversation` over it: `session.created` when the channel
opens, then whatever the conversation answers to the client's events (see
`realtime_conversation` for how strictly). The visitor's microphone track is received and
dropped: the fake hears only audio appended with `input_audio_buffer.append`.

aiortc is imported only when a peer is made, so the fake chat server runs without it.
"""

from __future__ import annotations

from typing import Any

from simulator.fake_openai.realtime_conversation import RealtimeConversation
from simulator.fake_openai.realtime_state import FakeRealtime, FakeRealtimeCall


class RealtimePeer:
    """An aiortc peer connection and the conversation on its data channel."""

    def __init__(self, realtime: FakeRealtime, llm: Any, record: FakeRealtimeCall, session: dict[str, Any]) -> None:
        from aiortc import RTCConfiguration, RTCPeerConnection
        from aiortc.contrib.media import MediaBlackhole

        self.record = record
        # No ICE servers: aiortc's default would ask a public STUN server; loopback needs none.
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.audio_sink = MediaBlackhole()  # the visitor's (fake) microphone: heard and dropped
        self.channel: Any = None
        self.conversation = RealtimeConversation(realtime, llm, record, session, self._send_text, webrtc=True)

        @self.pc.on("track")
        def on_track(track: Any) -> None:
            self.audio_sink.addTrack(track)

        @self.pc.on("datachannel")
        def on_datachannel(channel: Any) -> None:
            if channel.label != "oai-events":
                return
            self.channel = channel
            channel.on("message", self.conversation.receive)
            if channel.readyState == "open":
                self._opened()
            else:
                channel.on("open", self._opened)

        @self.pc.on("connectionstatechange")
        async def on_state() -> None:
            if self.pc.connectionState in ("failed", "closed"):
                await self.close()

    def _send_text(self, text: str) -> None:
        if self.channel is not None and self.channel.readyState == "open":
            self.channel.send(text)

    def _opened(self) -> None:
        self.record.channel_open = True
        self.conversation.opened()

    async def answer(self, offer_sdp: str) -> str:
        from aiortc import RTCSessionDescription

        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await self.audio_sink.start()
        return self.pc.localDescription.sdp

    async def close(self) -> None:
        await self.conversation.close()
        await self.audio_sink.stop()
        await self.pc.close()
