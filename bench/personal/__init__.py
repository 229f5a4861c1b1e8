"""Data and helpers of bench/bench_personal.py: persons, distractors, the judge, the hub."""
