package store

import (
	"context"
	"encoding/json"
	"fmt"

	"kessai/internal/maintenance"
)

// NoticeConfig returns the operator's notice settings (sender, contact, wording), Kessai's
// defaults where the operator set nothing.
func (db *DB) NoticeConfig(ctx context.Context) (maintenance.NoticeConfig, error) {
	cfg := maintenance.DefaultNoticeConfig()
	v, err := db.Meta(ctx, "notice_config")
	if err != nil || v == "" {
		return cfg, err
	}
	if err := json.Unmarshal([]byte(v), &cfg); err != nil {
		return cfg, fmt.Errorf("stored notice configuration is unreadable: %w", err)
	}
	return cfg, nil
}

// SetNoticeConfig stores the operator's notice settings.
func (db *DB) SetNoticeConfig(ctx context.Context, cfg maintenance.NoticeConfig) error {
	b, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	return db.SetMeta(ctx, "notice_config", string(b))
}
