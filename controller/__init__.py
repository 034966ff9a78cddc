"""controller: focus measures and focus searches (the sans-IO core), and the processes around them."""
