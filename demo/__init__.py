"""The product tour on the embedded default: no credentials, no external services."""
