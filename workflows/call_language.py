"""The caller's language: offered in the greeting, chosen by a key or heard in their words, then kept.

The call's current language is `CallState.language` (None: the business's first): the phone
line speaks it with its voice and transcribes it, and every reply request carries it, so the
brain answers in it (`ReplyRequest.language`). A change restarts Telnyx's transcription in the
new language, since an engine set to English transcribes Spanish as English nonsense.
"""

from __future__ import annotations

from temporalio import workflow

from workflows.patches import patched

with workflow.unsafe.imports_passed_through():
    from domain.vocabulary import Channel, Direction
    from receptionist.caller_language import (
        heard_language,
        language_of_key,
        menu_offer,
        safety_net_words,
        switched_words,
    )
    from receptionist.emergencies_by_language import emergency_in_languages
    from workflows.call_messages import CallEvent

from workflows.call_channel import CallChannel
from workflows.call_progress import CallProgress

# Calls recorded before languages were chosen: one language, no menu, no transcription restarted.
CALLER_LANGUAGE_PATCH = "caller-language"
LANGUAGE_MENU_PATCH = "language-menu"


def language_of(progress: CallProgress) -> str:
    """The language the call is in now: the caller's choice, else the business's first."""
    return progress.live.language or progress.context.business.language


class CallLanguage:
    def __init__(self, progress: CallProgress, channel: CallChannel) -> None:
        self._progress = progress
        self._channel = channel

    @property
    def current(self) -> str:
        return language_of(self._progress)

    def greeting(self, opening_words: str) -> str:
        """The greeting, with the keypad's language menu when the business speaks several (phone calls in)."""
        progress = self._progress
        offer = menu_offer(progress.context.business)
        incoming = progress.initiated is not None and progress.initiated.direction == Direction.INCOMING
        if offer and incoming and self._channel.kind == Channel.PHONE and patched(LANGUAGE_MENU_PATCH):
            return f"{opening_words} {offer}"
        return opening_words

    async def choose(self, words: list[CallEvent], caller_text: str) -> tuple[list[CallEvent], str | None]:
        """Moves the call to the language the caller chose by key or speaks. Returns the words left for
        the brain (a language key is not for it), and what to say when only a key was pressed."""
        if not patched(CALLER_LANGUAGE_PATCH):
            return words, None
        business = self._progress.context.business
        keyed = [tag for w in words if (tag := language_of_key(business, w.digit))]
        if keyed:
            words = [w for w in words if not language_of_key(business, w.digit)]
            await self.switch_to(keyed[-1])
            return words, None if words else switched_words(keyed[-1])
        if heard := heard_language(business, caller_text, self.current):
            await self.switch_to(heard)
        return words, None

    async def switch_to(self, tag: str) -> None:
        if tag == self.current:
            return
        self._progress.live.language = tag
        await self._channel.listen_in(tag)

    def emergency_in(self, caller_text: str) -> str | None:
        """An emergency said in another of the business's languages ("¡Se reventó una tubería!")."""
        if not patched(CALLER_LANGUAGE_PATCH):
            return None
        return emergency_in_languages(self._progress.context.business, caller_text)

    def safety_net_words(self, kind: str, english: str) -> str:
        """What the safety net says (`kind`: person, emergency), in the call's language; calls before
        languages said `english`."""
        if not patched(CALLER_LANGUAGE_PATCH):
            return english
        return safety_net_words(kind, self.current)
