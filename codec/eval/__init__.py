"""Measuring codecs: the `codec eval` protocol, classic-codec baselines, reports, the speed benchmark."""
