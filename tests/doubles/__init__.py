"""Test doubles that run as real local servers (loopback only) for the integration and
end-to-end tests: an EvalAI server (`evalai_double`) and a driver for the real `evalai` CLI
(`evalai_cli`)."""
