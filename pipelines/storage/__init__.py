"""Object storage helpers of the ML runtime, with no Django: the local read cache keyed by content hash."""
