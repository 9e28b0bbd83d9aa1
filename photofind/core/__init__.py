"""The photofind engine. Nothing in this package may import Qt, and torch only lazily."""
