"""Benchmarks of the bridge against the local test bed (real Azurite, identity endpoint, pipeline stand-in).

Each prints its figures as ratios against a baseline measured in the same run, because these machines are
noisy, and writes `bench/results/<name>.json`. Run one with `python -m bench.<name> [--size smoke|full]`,
or all of them in full size with `python -m bench` (which also prints the README table).

- `event_overhead`: `blob_trigger.main` from call to POST received, versus raw HTTP doing the same round trips
- `cold_start`: a fresh interpreter handling its first event, versus one importing the SDKs only
- `sweep_scale`: a sweep that finds nothing new, versus a bare delimiter listing; subfolders growing 10x
- `burst`: 1,000 blobs at once through the sweep, versus the ideal time at the configured concurrency
- `latency`: upload to POST received through the event path, beside the documented polling intervals

They are not timed tests: CI runs each once in smoke size (`tests/test_bench_smoke.py`) to keep them working.
"""
