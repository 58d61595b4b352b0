"""The floor of the project: the call's vocabulary, imported by every layer."""
