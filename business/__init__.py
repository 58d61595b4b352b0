"""A business's configuration and what the receptionist is told about it."""
