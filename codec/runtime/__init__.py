"""Running a model: streaming sessions, long files in windows, device checks."""
