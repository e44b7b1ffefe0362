"""The engine: the httpx hook, record/replay decisions, faults, the network guard, misses."""
