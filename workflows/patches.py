"""Which code paths a call takes: Temporal's patches, asked once per call rather than once per patch.

`workflow.patched(id)` records a marker in the history of every call that asks it, and the SDK
upserts the `TemporalChangeVersion` search attribute with each: two history events per patch per
run, whatever the call does. A phone call with one caller turn asks some fifteen of them: more
events than its turns. Every call started on this code takes every patch of the newest
generation, so that generation's own patch stands for all of them: a call records one marker.

A call recorded before a generation has no marker for it: it asks each patch on its own, as it
did, and takes the path its history took. A patch added later is asked on its own too, until a
new generation (a new id, listing every patch of the one before it and the new ones) takes it in;
a generation never gains a patch, since the calls recorded with its marker took the old path of a
patch added after it.
"""

from __future__ import annotations

from temporalio import workflow

PATCHES_OF_2026_11_30 = frozenset(
    {
        "backchannels-are-listening",
        "business-transcription-settings",
        "caller-language",
        "fillers-fill-silence",
        "filler-watch-without-idle-timers",
        "keypad-zero-reaches-a-person",
        "keys-interrupt-speech",
        "language-menu",
        "long-calls-continue-as-new",
        "realtime-lines-transferred-to-openai",
        "records-calls",
        "records-in-background",
        "replies-follow-their-playback",
        "replies-heard-with-the-callers-words",
        "satisfaction-survey",
        "spanish-consent-answers",
        "speculation-in-the-call-language",
        "speculative-replies",
        "telnyx-commands-local",
        "tool-arguments-checked",
        "unmet-needs-climb-the-ladder",
        "urgent-callbacks-asked",
        "warm-transfers",
        "web-call-back-to-a-confirmed-number",
        "one-silence-timer-per-wait",
    }
)

# Newest first; each lists every patch of the generations before it.
GENERATIONS: tuple[tuple[str, frozenset[str]], ...] = (
    (
        "patches-of-2026-11-30-evening",
        PATCHES_OF_2026_11_30 | {"greeting-heard-with-the-callers-words", "call-opened-with-its-business"},
    ),
    ("patches-of-2026-11-30", PATCHES_OF_2026_11_30),
)


def patched(patch_id: str) -> bool:
    """`workflow.patched(patch_id)`, answered by the newest generation that lists it when the call has that
    generation's marker (every call started since): then no marker of its own. The SDK memoizes each answer
    for the run, so a call asks each generation once."""
    for generation, patches in GENERATIONS:
        if patch_id in patches and workflow.patched(generation):
            return True
    return workflow.patched(patch_id)
