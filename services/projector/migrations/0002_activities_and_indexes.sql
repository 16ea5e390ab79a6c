-- Activities, for the Learner Summary by Activity (from world files and pars.activities).
CREATE TABLE activities (
    id          text PRIMARY KEY,
    provider_id text NOT NULL,
    title       text NOT NULL,
    format      text NOT NULL,
    start_date  date,
    end_date    date
);
CREATE INDEX activities_provider ON activities (provider_id, id);

-- The record list's filters and sorts, each led by the provider every provider query filters on.
CREATE INDEX records_provider_status ON records (provider_id, status, submitted_at DESC) WHERE NOT deleted;
CREATE INDEX records_provider_board ON records (provider_id, board, submitted_at DESC) WHERE NOT deleted;
CREATE INDEX records_provider_completion ON records (provider_id, completion_date) WHERE NOT deleted;
CREATE INDEX records_provider_name ON records (provider_id, lower(last_name), lower(first_name)) WHERE NOT deleted;
CREATE INDEX records_provider_learner ON records (provider_id, learner_id) WHERE NOT deleted;
CREATE INDEX records_activity_status ON records (activity_id, status) WHERE NOT deleted;
CREATE INDEX records_submitted ON records (submitted_at DESC) WHERE NOT deleted;
