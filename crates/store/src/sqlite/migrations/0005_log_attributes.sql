-- pipelog schema, version 5: structured attributes on execution log lines (OpenTelemetry
-- records' attributes), as a JSON object; NULL for a line without any, which costs a byte.
ALTER TABLE execution_logs ADD COLUMN attributes TEXT;
