"""The person on the line saying their script: who called us, or whom our app dialled and reached.

Each line waits for its turn: the agent has spoken and then fallen silent for the caller's
pause (or, for a barge-in line, the agent has been speaking for a while), and our app is
transcribing, unless the line is keyed in (DTMF). A spoken line goes out as a few growing
interim transcriptions (one every `interim_spacing_seconds`) and one final one, as Telnyx's speech
recognition sends them: with `endpointing`, only after the silence the app's transcription_start
asked for (utterance_end_ms), and saying `final_text` when the line has one. The final one opens
the turn whose latency is measured (`TurnTiming`).
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from typing import TYPE_CHECKING

from simulator.call_script import CallerLine
from simulator.telnyx import webhook_bodies
from simulator.telnyx.records import ConversationLine

if TYPE_CHECKING:
    from simulator.telnyx.leg import CallLeg

INTERIM_SPACING_SECONDS = 0.02
MAX_INTERIM_TRANSCRIPTS = 3
# A line may read out a code from the person's texts, as a caller asked for one does.
TEXTED_CODE = "{texted_code}"  # the last code our app texted to the person's number
WRONG_CODE = "{wrong_code}"  # a code that is not that one: its last digit misread
CODE = re.compile(r"\b\d{4,8}\b")


class Caller:
    """The scripted person of one leg, speaking line by line."""

    def __init__(self, leg: CallLeg) -> None:
        self.leg = leg

    async def run(self) -> None:
        """Say every line in turn, listen to the answer to the last, then hang up if the script says so."""
        for index, line in enumerate(self.leg.call.script.lines):
            await self._wait_for_my_turn(line)
            await self._say(index, line)
        await self.leg.wait_until(lambda: self._seconds_until_reply_heard(needs_transcription=False))
        if self.leg.call.script.hang_up_at_end:
            self.leg.end_call(by_person=True)

    async def _wait_for_my_turn(self, line: CallerLine) -> None:
        needs_transcription = line.dtmf is None
        if line.barge_in:
            await self.leg.wait_until(lambda: self._seconds_until_barge_in(line, needs_transcription))
        else:
            await self.leg.wait_until(lambda: self._seconds_until_reply_heard(needs_transcription))

    def _can_hear(self, needs_transcription: bool) -> bool:
        # While a transfer rings, or an on-call person is being reached, the caller is on hold and waits.
        return (
            self.leg.call.status == "active"
            and (self.leg.transcribing or not needs_transcription)
            and not self.leg.transfers.on_hold()
        )

    def _seconds_until_reply_heard(self, needs_transcription: bool) -> float | None:
        """The person talks once the agent has said something and then fell silent."""
        heard = self.leg.playback
        if not self._can_hear(needs_transcription) or not heard.agent_spoke_since_caller:
            return None
        if heard.idle_since is None:
            return None
        pause = self.leg.call.script.caller_pause_seconds
        return heard.idle_since + (self.leg.sim.caller_pause_seconds if pause is None else pause) - self.leg.loop.time()

    def _seconds_until_barge_in(self, line: CallerLine, needs_transcription: bool) -> float | None:
        started = self.leg.playback.first_agent_start_since_caller
        if not self._can_hear(needs_transcription) or started is None:
            return None
        return started + line.barge_in_after_seconds - self.leg.loop.time()

    async def _say(self, index: int, line: CallerLine) -> None:
        leg = self.leg
        leg.playback.person_spoke()
        if line.dtmf is not None:
            now = time.time()
            leg.call.conversation.append(ConversationLine("caller", f"[DTMF {line.dtmf}]", now, ended_at=now))
            leg.post("call.dtmf.received", webhook_bodies.dtmf(leg.ids(), leg.call, line.dtmf), turn_index=index)
            return
        text = self._read_out_codes(line.text.strip())
        spoken = ConversationLine("caller", text, time.time())
        leg.call.conversation.append(spoken)
        script = leg.call.script
        prefixes = interim_prefixes(text.split()) if leg.interim_results else []
        for k, prefix in enumerate(prefixes):
            if k:
                await asyncio.sleep(script.interim_spacing_seconds)
            leg.post("call.transcription", webhook_bodies.transcription(leg.ids(), prefix, is_final=False))
        leg.call.last_words_at[index] = time.time()
        # The engine waits for the caller's silence before it says the utterance is over.
        await asyncio.sleep(leg.endpointing_seconds if script.endpointing else INTERIM_SPACING_SECONDS)
        final = self._read_out_codes(line.final_text.strip()) if line.final_text else text
        leg.post("call.transcription", webhook_bodies.transcription(leg.ids(), final, is_final=True), turn_index=index)
        spoken.ended_at = time.time()
        leg.playback.person_finished()

    def _read_out_codes(self, text: str) -> str:
        if TEXTED_CODE not in text and WRONG_CODE not in text:
            return text
        call = self.leg.call
        number = call.from_number if call.direction == "incoming" else call.to_number
        codes = [found[0] for m in self.leg.sim.messages if m.to_number == number and (found := CODE.search(m.text))]
        code = codes[-1] if codes else "no code"
        wrong = f"{code[:-1]}{(int(code[-1]) + 1) % 10}" if codes else "no code"
        return text.replace(TEXTED_CODE, code).replace(WRONG_CODE, wrong)


def interim_prefixes(words: list[str]) -> list[str]:
    """Growing prefixes of the line, about one per three words, at most three."""
    count = min(MAX_INTERIM_TRANSCRIPTS, max(1, math.ceil(len(words) / 3)))
    return [" ".join(words[: math.ceil(len(words) * k / count)]) for k in range(1, count + 1)]
