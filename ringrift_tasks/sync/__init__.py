"""Moving games and models between machines and into the pool."""
