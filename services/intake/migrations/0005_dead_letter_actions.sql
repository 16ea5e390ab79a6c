-- What operators did with each dead letter (the console and `pars dlq` record it alike): re-drove it to its source
-- topic or skipped it, who (an operator key's ID, or the CLI's user) and when. One action per dead letter: the
-- primary key makes a second click, or a second operator, find it done instead of re-driving it again.
CREATE TABLE dead_letter_actions (
    dlq_topic        text NOT NULL,  -- logical name: pars.dlq.<service>
    dlq_partition    integer NOT NULL,
    dlq_offset       bigint NOT NULL,
    action           text NOT NULL CHECK (action IN ('redrive', 'skip')),
    operator         text NOT NULL,
    source_topic     text,
    source_partition integer,
    source_offset    bigint,
    redriven_to      text,  -- partition/offset of the copy on the source topic
    acted_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dlq_topic, dlq_partition, dlq_offset)
);
CREATE INDEX dead_letter_actions_recent ON dead_letter_actions (acted_at DESC);
