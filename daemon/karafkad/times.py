"""Times a user writes, read one way everywhere."""
