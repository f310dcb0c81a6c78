"""Test doubles that run as real local servers (loopback only) for the integration and
end-to-end tests: an EvalAI server and a driver for the real `evalai` CLI (package `evalai`), a
GitHub REST server (`github_double`) and a stand-in worker for the watchdog (`standin_worker`)."""
