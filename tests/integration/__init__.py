"""Integration tests: our adapters against real local servers on 127.0.0.1."""
