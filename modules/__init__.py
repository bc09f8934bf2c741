"""The partition-sync function's modules."""
