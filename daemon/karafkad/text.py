"""Text for people, one copy each: plural, clipping, close matches, tables."""
