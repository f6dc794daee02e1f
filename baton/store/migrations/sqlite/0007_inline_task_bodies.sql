-- Nothing to do on SQLite: it does not compress rows (PostgreSQL's 0007 keeps task bodies uncompressed).
-- The file keeps both dialects' migrations numbered alike.
SELECT 1;
