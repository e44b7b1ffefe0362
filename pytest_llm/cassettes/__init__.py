"""Cassette files: safe load, readable atomic save, load cache, paths, import, listing, pruning."""
