"""The `cloudgreet` command, the settings, and how every process connects to Temporal."""
