"""Shared plumbing: the configuration seam, AWS clients, the pandas lake/warehouse client, local services."""
