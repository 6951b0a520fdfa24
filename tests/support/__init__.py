"""Local servers and helpers shared by tests and examples."""
