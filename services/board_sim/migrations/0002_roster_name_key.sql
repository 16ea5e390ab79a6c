-- Boards that match without a board ID look diplomates up by last name, compared as PARS forgives names
-- (case, accents, spaces, hyphens, apostrophes: shared.names.name_key, written by the world loader).
ALTER TABLE roster ADD COLUMN last_name_key text;
UPDATE roster SET last_name_key = regexp_replace(lower(last_name), '[ ''’`.-]', '', 'g');
CREATE INDEX roster_by_last_name ON roster (board, last_name_key);
