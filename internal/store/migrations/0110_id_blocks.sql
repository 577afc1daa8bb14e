-- Payment and auto-charge numbers (gid, acid) are allocated from this counter in blocks (see
-- store/ids.go): each instance advances it by a block in a transaction of its own, so instances
-- sharing one database never issue the same number.
CREATE TABLE id_blocks (
  name TEXT PRIMARY KEY,
  next_value BIGINT NOT NULL
);
INSERT INTO id_blocks(name, next_value) VALUES ('id', 0);
