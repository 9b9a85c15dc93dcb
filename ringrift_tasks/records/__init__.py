"""Game records and sealed shards: the data contract between self-play, sync and the pool."""
