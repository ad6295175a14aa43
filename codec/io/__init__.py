"""Reading and writing the outside world: audio files, atomic output files, safe weight files."""
