-- One schema for every simulated board (rows carry the board code): one outbox, one relay, one pool.
CREATE TABLE board_overrides (
    code text PRIMARY KEY,
    data jsonb NOT NULL
);

-- The board's own diplomate roster (may differ from PARS's physician directory).
CREATE TABLE roster (
    board      text NOT NULL,
    board_id   text NOT NULL,
    first_name text NOT NULL,
    last_name  text NOT NULL,
    dob        text,
    PRIMARY KEY (board, board_id)
);

-- Credit the board granted, per learner and activity: through PARS (record_id set) or before it.
CREATE TABLE credits (
    credit_key      text PRIMARY KEY,
    board           text NOT NULL,
    board_id        text NOT NULL,
    activity_id     text NOT NULL,
    completion_date date NOT NULL,
    points          numeric NOT NULL,
    record_id       uuid
);
CREATE INDEX credits_learner ON credits (board, board_id, activity_id);

-- Every request answered, with its verdict: a repeated request gets the same verdict again.
CREATE TABLE answers (
    request_id uuid PRIMARY KEY,
    board      text NOT NULL,
    verdict    jsonb NOT NULL
);
