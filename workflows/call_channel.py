"""How the receptionist reaches the caller: a Telnyx phone line, or a browser typing to the phone brain.

A `CallWorkflow` chooses its channel once, at its start (`choose_channel`); from then on it says,
stops, hangs up and transfers through the channel and never asks which one it is. The phone line
sends Telnyx commands (activities with deterministic command ids); the web channel collects
what would be spoken into the reply of the browser's update.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from temporalio import workflow
from temporalio.exceptions import ActivityError

from workflows.patches import patched

with workflow.unsafe.imports_passed_through():
    from activities.caller_reply import CallerReplies, FollowedSaid, FollowedSay, ReplyResult
    from activities.telnyx_commands import (
        BridgeCommand,
        CallCommand,
        CommandResult,
        SpeakCommand,
        TelnyxCommands,
        TranscriptionCommand,
        TransferCommand,
    )
    from domain.vocabulary import Channel, Direction
    from receptionist.web_replies import web_safe_reply
    from workflows.call_messages import CallEvent, CallStart, TransferLeg, WebReply, client_state_tag
    from workflows.call_options import (
        TELNYX_COMMAND,
        TELNYX_LOCAL_COMMAND,
        WAIT_FOR_HANGUP,
        WAIT_FOR_SPEECH_TO_FINISH,
    )
    from workflows.waiting import wait_until

from workflows.call_progress import CallProgress
from workflows.playing_replies import PlayingReply, follow_playback

# Records an activity's failure on the call's error log, under a source such as "telnyx.speak".
ErrorRecorder = Callable[[str, ActivityError], Awaitable[None]]

# Calls begun before it started Telnyx's transcription with its defaults.
TRANSCRIPTION_SETTINGS_PATCH = "business-transcription-settings"
# Calls begun before it sent each Telnyx command of the caller's line as an activity of its own: three
# history events, a trip through the task queue and a workflow task more, for an HTTP call of
# milliseconds. A local activity is one marker event in the workflow task that decided the command, and
# as durable: it is retried by the same policy, a worker that dies before that task completes leaves it
# to be run again by the next (the command id makes Telnyx act once), and its result is in the history.
TELNYX_COMMANDS_LOCAL_PATCH = "telnyx-commands-local"
# Calls recorded before the greeting's playback was counted by the API and brought by the caller's first
# words, as a reply's is (workflows/playing_replies.py): its start and end were two signals and two
# workflow tasks of every call.
GREETING_FOLLOWED_PATCH = "greeting-heard-with-the-callers-words"
# How a call ends when we say goodbye; Telnyx reports the same for a phone call we hang up.
AGENT_HANGUP = "normal_clearing"
# How a web conversation ends when the visitor closes it.
VISITOR_HANGUP = "web_hangup"


class CallChannel(Protocol):
    kind: Channel
    can_transfer: bool  # to the on-call numbers
    can_call_back: bool  # a caller with a number to promise a call-back to

    def connect(self) -> None:
        """What the call knows once it begins on this channel, before any word."""

    async def answer(self) -> bool:
        """Picks up; False when the caller is already gone."""

    async def listen(self) -> None: ...

    async def listen_in(self, language: str) -> None:
        """Listens in another language from now on: the caller chose it."""

    async def say(self, text: str, step: str) -> None: ...

    async def greet(self, text: str, step: str) -> None:
        """Says the call's opening words: what the caller answers, not something the call waits to end."""

    async def stop(self) -> None:
        """Stops speaking: the caller barged in."""

    async def hang_up(self, step: str) -> None: ...

    async def record(self, step: str) -> None:
        """Starts recording the conversation, both sides."""

    async def transfer(self, to: str, leg: TransferLeg, ring_seconds: int, step: str) -> bool:
        """Rings a person to take over the call; False when the caller is already gone."""

    async def bridge(self, other_call_control_id: str, step: str) -> bool:
        """Connects the caller to a call of our own (a warm transfer's leg); False when the caller is gone."""

    def replied(self, reply: ReplyResult) -> None:
        """A reply activity answered the caller (it spoke on a phone line itself)."""

    def caller_left(self) -> None:
        """The browser closed the conversation (a phone call's end is Telnyx's call.hangup)."""

    def begin_turn(self) -> None:
        """A caller turn takes the words heard so far."""

    def end_turn(self) -> None:
        """The turn has said all it will say."""

    def end_conversation(self) -> None: ...


class PhoneLine:
    """A Telnyx call: answered, spoken to and hung up by Call Control commands."""

    kind = Channel.PHONE
    can_transfer = True
    can_call_back = True

    def __init__(self, progress: CallProgress, record_error: ErrorRecorder) -> None:
        self._progress = progress
        self._record_error = record_error

    def connect(self) -> None:
        pass  # Telnyx's call.initiated arrives by signal

    async def answer(self) -> bool:
        answered = await self._command(TelnyxCommands.answer_call, self._call_command("answer"))
        return not answered.call_ended

    async def listen(self) -> None:
        command = TranscriptionCommand(**self._call_command("transcription").model_dump(), language=self._language())
        if patched(TRANSCRIPTION_SETTINGS_PATCH):
            command.engine = self._engine(command.language)
        await self._command(TelnyxCommands.start_transcription, command)

    def _engine(self, language: str | None) -> dict[str, Any]:
        # The business's engine and endpointing: how soon a turn ends (business/listening.py).
        business = self._progress.context.business
        return business.transcription.command_params(language or business.language)

    async def listen_in(self, language: str) -> None:
        # The engine's language is set when it starts: stopped, then started again in the new one.
        switch = self._progress.next("language")
        await self._command(TelnyxCommands.stop_transcription, self._call_command(f"transcription-stop-{switch}"))
        command = TranscriptionCommand(**self._call_command(f"transcription-{switch}").model_dump(), language=language)
        if patched(TRANSCRIPTION_SETTINGS_PATCH):
            command.engine = self._engine(language)
        await self._command(TelnyxCommands.start_transcription, command)

    async def say(self, text: str, step: str) -> None:
        self._progress.speeches_sent += 1
        await self._command(TelnyxCommands.speak, self._speak_command(text, step))

    async def greet(self, text: str, step: str) -> None:
        """The greeting plays on while the call listens: the API counts its start and end in a window, as a
        reply's (activities/caller_reply.py `say_followed`), and the caller's first words bring the count."""
        if not patched(GREETING_FOLLOWED_PATCH):
            await self.say(text, step)
            return
        progress = self._progress
        progress.speeches_sent += 1
        say = FollowedSay(command=self._speak_command(text, step), window=step)
        try:
            said: FollowedSaid = await workflow.execute_local_activity_method(
                CallerReplies.say_followed, say, **TELNYX_LOCAL_COMMAND
            )
        except ActivityError as error:
            await self._record_error(f"telnyx.{step}", error)
            return
        if said.call_ended:
            progress.note_call_ended()
        elif said.following:
            progress.play_on(PlayingReply(reply=step, speeches=1, started=said.started, ended=said.ended))

    def _speak_command(self, text: str, step: str) -> SpeakCommand:
        business = self._progress.context.business
        language = self._language()
        voice = business.voice_for(language)
        return SpeakCommand(
            **self._call_command(step).model_dump(),
            text=text,
            voice=voice.voice,
            language=language,
            voice_settings=voice.voice_settings(),
        )

    def _language(self) -> str:
        return self._progress.live.language or self._progress.context.business.language

    async def stop(self) -> None:
        await self._command(TelnyxCommands.stop_speaking, self._call_command(f"stop-{self._progress.next('stop')}"))

    async def hang_up(self, step: str) -> None:
        progress = self._progress
        # Let the goodbye be heard: hanging up cuts off whatever is still playing. No caller's words will
        # bring the count of what plays on (workflows/playing_replies.py): `hear_reply` follows it.
        follow_playback(progress)
        await wait_until(
            lambda: progress.speeches_ended >= progress.speeches_sent or progress.over, WAIT_FOR_SPEECH_TO_FINISH
        )
        await self._command(TelnyxCommands.hang_up, self._call_command(f"hangup-{step}"))
        await wait_until(lambda: progress.over, WAIT_FOR_HANGUP)

    async def record(self, step: str) -> None:
        await self._command(TelnyxCommands.start_recording, self._call_command(step))

    async def transfer(self, to: str, leg: TransferLeg, ring_seconds: int, step: str) -> bool:
        transfer = TransferCommand(
            **self._call_command(step).model_dump(),
            to=to,
            ring_timeout_seconds=ring_seconds,
            target_leg_tag=client_state_tag(leg),  # signed by the activity: a workflow holds no secret
        )
        sent = await self._command(TelnyxCommands.transfer_call, transfer)
        return not sent.call_ended

    async def bridge(self, other_call_control_id: str, step: str) -> bool:
        bridge = BridgeCommand(**self._call_command(step).model_dump(), other_call_control_id=other_call_control_id)
        sent = await self._command(TelnyxCommands.bridge_calls, bridge)
        return not sent.call_ended

    def replied(self, reply: ReplyResult) -> None:
        self._progress.speeches_sent += reply.sentences_spoken

    def caller_left(self) -> None:
        pass  # the line is down only when Telnyx says so

    def begin_turn(self) -> None:
        pass

    def end_turn(self) -> None:
        pass

    def end_conversation(self) -> None:
        pass

    def _call_command(self, step: str) -> CallCommand:
        return CallCommand(
            call_control_id=self._progress.call_control_id, command_id=f"{workflow.info().workflow_id}/{step}"
        )

    async def _command(self, activity_method: Any, command: CallCommand) -> CommandResult:
        try:
            result: CommandResult
            if patched(TELNYX_COMMANDS_LOCAL_PATCH):
                result = await workflow.execute_local_activity_method(activity_method, command, **TELNYX_LOCAL_COMMAND)
            else:
                result = await workflow.execute_activity_method(activity_method, command, **TELNYX_COMMAND)
        except ActivityError as error:
            await self._record_error(f"telnyx.{command.command_id.rsplit('/', 1)[-1]}", error)
            return CommandResult()
        if result.call_ended:
            self._progress.note_call_ended()
        return result


class WebChannel:
    """A browser typing to the phone brain: its words arrive by update, and each update gets the reply.

    What would be spoken is collected in an outbox; the turn that took some words answers every
    update those words came in, with all that was said since. The visitor is anonymous: what they
    read passes `web_safe_reply` (no private number, no quote of the instructions), whichever
    brain or step wrote it.
    """

    kind = Channel.WEB
    can_transfer = False
    can_call_back = False

    def __init__(self, progress: CallProgress) -> None:
        self._progress = progress
        self._outbox: list[str] = []
        self._words_sent = 0  # updates received
        self._words_answered = 0  # updates answered
        self._words_in_turn = 0  # updates whose words the running turn took
        self._replies: dict[int, WebReply] = {}

    def connect(self) -> None:
        # No Telnyx call.initiated, and nothing to pick up: the visitor is there.
        self._progress.answered = True
        self._progress.initiated = CallEvent(
            event_id="web-start",
            event_type="call.initiated",
            call_control_id=self._progress.call_control_id,
            received_at=0,
            caller_number=None,
            dialed_number=None,
            direction=Direction.WEB,
        )

    async def answer(self) -> bool:
        return True

    async def listen(self) -> None:
        pass  # the browser sends words when it has them

    async def listen_in(self, language: str) -> None:
        pass  # typed words need no transcription

    async def say(self, text: str, step: str) -> None:
        self._outbox.append(text)

    async def greet(self, text: str, step: str) -> None:
        await self.say(text, step)

    async def stop(self) -> None:
        pass  # a typed reply is not interrupted

    async def hang_up(self, step: str) -> None:
        self._progress.end(AGENT_HANGUP)

    async def record(self, step: str) -> None:
        pass  # a typed conversation is its transcript

    async def transfer(self, to: str, leg: TransferLeg, ring_seconds: int, step: str) -> bool:
        raise NotImplementedError("a browser has no phone line to transfer")

    async def bridge(self, other_call_control_id: str, step: str) -> bool:
        raise NotImplementedError("a browser has no phone line to bridge")

    def replied(self, reply: ReplyResult) -> None:
        self._outbox.append(reply.text)

    def caller_left(self) -> None:
        self._progress.end(VISITOR_HANGUP)

    # --- the browser's updates -------------------------------------------------------------------

    def hear(self, text: str, sent_at: float) -> int:
        """Files the browser's words as a caller's final transcript; the number of the update to answer."""
        self._words_sent += 1
        self._progress.caller_words.append(
            CallEvent(
                event_id=f"web-words-{self._words_sent}",
                event_type="call.transcription",
                call_control_id=self._progress.call_control_id,
                received_at=sent_at,
                transcript=text,
                is_final=True,
            )
        )
        return self._words_sent

    def answered(self, sequence: int) -> bool:
        return self._words_answered >= sequence

    def reply_to(self, sequence: int) -> WebReply:
        return self._replies.get(sequence) or WebReply(text="", ended=True, outcome=self._progress.live.outcome)

    def greeting(self) -> WebReply:
        self._outbox.clear()  # the greeting is the opening update's answer, not part of the first reply
        transcript = self._progress.live.transcript
        return WebReply(text=self._for_visitor(transcript[0].text if transcript else ""), ended=self._progress.over)

    def begin_turn(self) -> None:
        self._words_in_turn = self._words_sent

    def end_turn(self) -> None:
        """Every update whose words the turn took gets the turn's reply."""
        self._answer_upto(self._words_in_turn)

    def end_conversation(self) -> None:
        self._answer_upto(self._words_sent)

    def _answer_upto(self, taken: int) -> None:
        if taken <= self._words_answered:
            return
        reply = WebReply(
            text=self._for_visitor(" ".join(t for t in self._outbox if t)),
            ended=self._progress.ending or self._progress.over,
            outcome=self._progress.live.outcome,
        )
        self._outbox.clear()
        for sequence in range(self._words_answered + 1, taken + 1):
            self._replies[sequence] = reply
        self._words_answered = taken

    def _for_visitor(self, text: str) -> str:
        opening = self._progress.opening
        if opening is None:
            return text
        return web_safe_reply(text, opening.business, self._progress.live.language or opening.business.language)


def choose_channel(start: CallStart, progress: CallProgress, record_error: ErrorRecorder) -> PhoneLine | WebChannel:
    if start.channel == Channel.WEB:
        return WebChannel(progress)
    return PhoneLine(progress, record_error)
