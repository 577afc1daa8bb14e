-- gids and acids are a keyed permutation of the id_blocks counter (store/ids.go), so two of a
-- merchant's own IDs no longer tell it how many payments were made in between. secret is the
-- permutation's key, drawn by the first instance that opens the database (crypto/rand) and then
-- shared by all. floor is the counter's value at this upgrade: the IDs below it were issued in
-- sequence, and the permutation is walked above it only, so a new ID never repeats an old one.
CREATE TABLE id_key (
  name TEXT PRIMARY KEY,
  floor BIGINT NOT NULL,
  secret {{BLOB}}
);
INSERT INTO id_key(name, floor) SELECT 'ids', next_value FROM id_blocks WHERE name = 'id';
-- renamed so that a binary from before this upgrade, still running, cannot reserve a block and
-- issue sequential IDs that could meet permuted ones (it answers ER000 once its block is used)
UPDATE id_blocks SET name = 'ids' WHERE name = 'id';
