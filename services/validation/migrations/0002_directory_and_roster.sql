-- Learner matching looks physicians up by licence, NPI, board ID or name; keys are normalised on load.
ALTER TABLE physicians ADD COLUMN first_key text NOT NULL DEFAULT '', ADD COLUMN last_key text NOT NULL DEFAULT '';
CREATE INDEX physicians_name_key ON physicians (last_key, first_key, dob);

CREATE TABLE physician_licenses (
    state         text NOT NULL,
    license_key   text NOT NULL,
    physician_key text NOT NULL,
    PRIMARY KEY (state, license_key, physician_key)
);
CREATE INDEX physician_licenses_physician ON physician_licenses (physician_key);

CREATE TABLE physician_certifications (
    board         text NOT NULL,
    board_id      text NOT NULL,
    physician_key text NOT NULL,
    PRIMARY KEY (board, board_id, physician_key)
);
CREATE INDEX physician_certifications_physician ON physician_certifications (physician_key);

-- Real-time boards' own rosters (they may differ from the directory), checked while validating.
CREATE TABLE roster (
    board      text NOT NULL,
    board_id   text NOT NULL,
    first_name text NOT NULL,
    last_name  text NOT NULL,
    dob        text,
    PRIMARY KEY (board, board_id)
);
