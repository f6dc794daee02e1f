-- Nothing to do on SQLite: its foreign-key checks are index lookups in the same process, and it keeps them
-- (PostgreSQL's 0009 replaces two hot ones with delete triggers). The file keeps both dialects' migrations
-- numbered alike.
SELECT 1;
