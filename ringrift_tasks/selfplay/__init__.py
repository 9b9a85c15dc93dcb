"""Self-play: games played by agents, recorded with their search targets into sealed shards."""
