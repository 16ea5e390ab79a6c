-- held: the row's writer publishes it itself (shared/outbox.py: OutboxWriter) until not_before; meanwhile the relay
-- sends no later row of the same topic and key.
ALTER TABLE outbox ADD COLUMN held boolean NOT NULL DEFAULT false;
