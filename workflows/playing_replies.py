"""Phone replies (and the greeting) whose speech plays on after their activity completed, counted by the API.

A reply that follows its playback (api/reply_windows.py) returns once it has sent every sentence;
the API goes on counting their starts and ends in its window. The call learns the rest with the
caller's next words, keys or hang-up: they close the window, and the API sends its count with
them (`CallEvent.reply_playback`). Since REPLIES_HEARD_WITH_CALLER_PATCH that is how a turn ends,
with no activity per turn waiting for the end of the speech. Only a call that stops waiting for
the caller (it ends, or climbs to a person) asks for the end itself: `hear_reply` follows the
speech then (workflows/caller_turn.py), as it did after every reply before the patch.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.exceptions import ActivityError, CancelledError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from activities.caller_reply import CallerReplies, HearReply, ReplyHeard
    from workflows.call_messages import FollowedSpeech
    from workflows.call_options import HEAR_REPLY

if TYPE_CHECKING:
    from workflows.call_progress import CallProgress


@dataclass
class PlayingReply:
    """A reply whose speech still plays, and what of it the call has counted already."""

    reply: str  # its step (`reply_step`): the API's window
    speeches: int  # its sentences and filler, all sent
    started: int
    ended: int
    # `hear_reply`, following it to its end; None: the caller's next words bring its count.
    handle: workflow.ActivityHandle[ReplyHeard] | None = None
    task: asyncio.Task[None] | None = None  # the wait for `handle`, kept so that it is not collected
    void: bool = False  # a barge-in stopped its speech: what `hear_reply` says comes too late to count

    def heard(self, heard: ReplyHeard | FollowedSpeech | None) -> tuple[int, int]:
        """The starts and ends of its speech the call has not counted yet: all that is left when `heard` is None
        (the count was lost with an API process: its words were said)."""
        started = heard.started if heard else self.speeches
        ended = heard.ended if heard else self.speeches
        new = (max(0, started - self.started), max(0, ended - self.ended))
        self.started, self.ended = max(self.started, started), max(self.ended, ended)
        return new


def follow_playback(progress: CallProgress) -> None:
    """The call stops waiting for the caller's words (it hangs up, or climbs to a person), and what it does next
    waits for our speech to end: `hear_reply` follows each reply still playing whose count nothing brings."""
    for playing in progress.playing_replies:
        if playing.handle is None:
            follow(progress, playing)


def follow(progress: CallProgress, playing: PlayingReply) -> None:
    """`hear_reply` follows `playing` to its end; the call counts what it heard then."""
    hear = HearReply(call_control_id=progress.call_control_id, reply=playing.reply, speeches=playing.speeches)
    playing.handle = workflow.start_activity_method(
        CallerReplies.hear_reply, hear, cancellation_type=ActivityCancellationType.TRY_CANCEL, **HEAR_REPLY
    )
    playing.task = asyncio.create_task(_heard(progress, playing))


async def _heard(progress: CallProgress, playing: PlayingReply) -> None:
    assert playing.handle is not None
    heard: ReplyHeard | None
    try:
        heard = await playing.handle
    except (ActivityError, CancelledError, asyncio.CancelledError):
        heard = None  # taken as heard: its words were said
    if playing.void:
        return
    progress.playing_replies.remove(playing)
    progress.count_speech(playing, heard)
