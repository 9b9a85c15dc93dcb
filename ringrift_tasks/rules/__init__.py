"""The RingRift rules engine (public API re-exported here once complete)."""
