"""CDK constructs and stacks of the marketplace platform (see infra/README.md)."""
