"""All I/O of a call: Telnyx commands, the LLM, the database. Each activity is safe to retry."""
