"""The run's figures: the terminal summary, the JSON / Markdown / HTML reports, cassette diffs."""
