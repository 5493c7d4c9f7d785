"""One module per REST function's routes (``orders``, ``account``, ``markets``, ``deposits``), each
with a factory that makes the function's Powertools ``Router``."""
