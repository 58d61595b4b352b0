"""``python -m simulator.fake_openai``: serve the fake until interrupted (``cloudgreet fake-openai`` does the same)."""

from simulator.fake_openai.server import main

main()
