-- pipelog schema, version 7: a writer's own id for a line (`clientId`), unique within its
-- execution, so a resent line is not written twice. NULL for lines without one (a byte);
-- the index holds only the lines that have one.
ALTER TABLE execution_logs ADD COLUMN client_id TEXT;
CREATE UNIQUE INDEX execution_logs_client_ids ON execution_logs (execution_id, client_id)
    WHERE client_id IS NOT NULL;
