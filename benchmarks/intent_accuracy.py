"""How well the offline responder understands callers: intent and slot accuracy on the utterance corpus.

`cloudgreet bench intents [--misses]` scores receptionist/intents.py on
tests/fixtures/caller_utterances*.jsonl (see receptionist/utterance_corpus.py) and prints, per file,
the share of utterances whose intent and slots all came out as written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from receptionist.utterance_corpus import read_corpus, score

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
CORPORA = ("caller_utterances.jsonl", "caller_utterances_held_out.jsonl", "caller_utterances_blind.jsonl")


def main(args: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="cloudgreet bench intents", description=__doc__)
    parser.add_argument("--misses", action="store_true", help="list every utterance not understood")
    options = parser.parse_args(args)
    for corpus in CORPORA:
        result = score(read_corpus(FIXTURES / corpus))
        print(f"== {corpus}")
        print(result.report())
        if options.misses:
            for miss in result.misses:
                print(f"  miss: {miss}")
    return 0
