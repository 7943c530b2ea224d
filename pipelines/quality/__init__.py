"""Data-quality gates: great-expectations suites over table versions, and the finalize gate."""
