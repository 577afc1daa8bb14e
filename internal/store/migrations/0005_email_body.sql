-- E-mail bodies are rendered when queued, so a retry sends exactly what was decided then.
ALTER TABLE email_log ADD COLUMN body TEXT NOT NULL DEFAULT '';
