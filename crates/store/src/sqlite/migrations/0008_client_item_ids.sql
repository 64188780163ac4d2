-- pipelog schema, version 8: a writer's own id for an operating log item (`clientId`),
-- unique within its account, so a resent item is not recorded twice. The index holds only
-- the items that have one.
ALTER TABLE operating_items ADD COLUMN client_id TEXT;
CREATE UNIQUE INDEX operating_items_client_ids ON operating_items (account_id, client_id)
    WHERE client_id IS NOT NULL;
