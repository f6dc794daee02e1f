-- Nothing to do on SQLite: its claim decodes the task body in Python anyway (PostgreSQL's 0008 keeps a claim's
-- fields in the queue row). The file keeps both dialects' migrations numbered alike.
SELECT 1;
