"""Batch jobs over many files: input discovery, output planning, failure records."""
