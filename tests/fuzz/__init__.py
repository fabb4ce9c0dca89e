"""Bad-input fuzzing and a stateful model of the job status machine (Hypothesis).

The fast subset runs in every `make test`. TRACKING_FUZZ_EXAMPLES=N sends at
least N generated requests (spread over every RPC) and scales the state
machine with it, e.g.

    TRACKING_FUZZ_EXAMPLES=10000 .venv/bin/pytest tests/fuzz -p no:cacheprovider
"""
