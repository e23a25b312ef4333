"""Test helpers shared by the test suites: synthetic datasets and a SPEC-only dataset loader."""
