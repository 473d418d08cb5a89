"""Benchmarks run side by side with a baseline: `python -m bench [intake|adf|triage]`."""
