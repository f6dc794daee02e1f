"""What both stores share: rows, plans, caches, keys, search, migrations, and the store code written once."""
