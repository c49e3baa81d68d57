"""Private helpers shared by the constructs; not a public API."""
