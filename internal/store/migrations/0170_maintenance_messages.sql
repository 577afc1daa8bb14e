-- Issue 15 item 13: a window's and a change's public message (ja/en) is separate from the
-- operator's internal note (maintenance.md §3.6). maintenance_windows.notes_ja/notes_en stay the
-- public message; note is internal. maintenance_changes.reason becomes the internal note (it was
-- typed as a reason and must not be published unannounced), message_ja/message_en are public,
-- stage is the progress stage of an update (investigating, identified, resolved).
ALTER TABLE maintenance_windows ADD COLUMN note TEXT NOT NULL DEFAULT '';
ALTER TABLE maintenance_changes ADD COLUMN message_ja TEXT NOT NULL DEFAULT '';
ALTER TABLE maintenance_changes ADD COLUMN message_en TEXT NOT NULL DEFAULT '';
ALTER TABLE maintenance_changes ADD COLUMN stage TEXT NOT NULL DEFAULT '';
-- 1: a progress update the operator asked to e-mail to every store
ALTER TABLE maintenance_changes ADD COLUMN mail INTEGER NOT NULL DEFAULT 0;
-- emergencies started before this copied the operator's reason into both public notes: make it
-- the internal note it was meant to be
UPDATE maintenance_windows SET note = notes_ja, notes_ja = '', notes_en = ''
  WHERE kind = 'emergency' AND notes_ja <> '' AND notes_ja = notes_en;
