"""The `cloudgreet` command: the dev stack, the API, the worker, the simulators and the call records."""
