"""Use cases: each public method is one transaction, then the events it produced go to the hub."""
