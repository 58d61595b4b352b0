"""Cuts a streamed reply into sentences, so the first one is spoken while the rest is still generated."""

from __future__ import annotations

import re

# A sentence ends at . ! or ? followed by white space; titles such as "Dr." do not end one.
_END = re.compile(r"[.!?]+[\"')\]]*\s+")
_NOT_AN_END = re.compile(r"\b(?:Dr|Mr|Mrs|Ms|St|Ave|No|vs|e\.g|i\.e|a\.m|p\.m)\.\s+$", re.IGNORECASE)


class SentenceSplitter:
    def __init__(self) -> None:
        self._buffer = ""

    def feed(self, text: str) -> list[str]:
        """Adds streamed text; returns the sentences it completed."""
        self._buffer += text
        sentences: list[str] = []
        start = 0
        for match in _END.finditer(self._buffer):
            candidate = self._buffer[start : match.end()]
            if _NOT_AN_END.search(candidate):
                continue
            if candidate.strip():
                sentences.append(candidate.strip())
            start = match.end()
        self._buffer = self._buffer[start:]
        return sentences

    def flush(self) -> list[str]:
        """The rest of the reply once the stream has ended."""
        rest, self._buffer = self._buffer.strip(), ""
        return [rest] if rest else []


def split_sentences(text: str) -> list[str]:
    splitter = SentenceSplitter()
    return splitter.feed(text) + splitter.flush()
