-- Nothing to do on PostgreSQL: the index SQLite's 0010 drops was SQLite's alone. The file keeps both
-- dialects' migrations numbered alike.
SELECT 1;
