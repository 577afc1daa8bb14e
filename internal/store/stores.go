package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Store is a merchant (加盟店) and the settings its requests are checked against.
type Store struct {
	AID              string
	Name             string
	ResultURL        string
	ACResultURL      string
	CompletionURL    string
	AllowIPs         []string // CIDRs or addresses; empty = all
	AllowOrigins     []string // origins (scheme://host[:port]); empty = all
	AuthCode         string   // 接続認証コード; empty = ut/hak not required
	Brands           []string // accepted brands; empty = all
	MinAmount        int64
	MaxAmount        int64
	Installments     bool
	RequireCVV       bool
	Suspended        bool
	Encoding         string // auto | utf-8 | shift_jis
	KickbackEncoding string // utf-8 | shift_jis
	KickbackSecret   string // HMAC key for the signature header; empty = unsigned
	NotifyEmail      string
	StopNotice       string // immediate | next
	// Require3DS refuses token charges of cards that need 3-D Secure unless it passed (ER900).
	Require3DS bool
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

const storeCols = `aid, name, result_url, ac_result_url, completion_url, allow_ips, allow_origins, auth_code, brands, min_amount, max_amount, installments, require_cvv, suspended, encoding, kickback_encoding, kickback_secret, notify_email, stop_notice, created_at, updated_at, require_3ds`

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, "\n") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func scanStore(r rowScanner) (*Store, error) {
	var s Store
	var ips, origins, brands string
	var inst, cvv, susp, ca, ua, tds int64
	err := r.Scan(&s.AID, &s.Name, &s.ResultURL, &s.ACResultURL, &s.CompletionURL, &ips, &origins, &s.AuthCode, &brands,
		&s.MinAmount, &s.MaxAmount, &inst, &cvv, &susp, &s.Encoding, &s.KickbackEncoding, &s.KickbackSecret, &s.NotifyEmail,
		&s.StopNotice, &ca, &ua, &tds)
	if err != nil {
		return nil, err
	}
	s.AllowIPs, s.AllowOrigins, s.Brands = splitList(ips), splitList(origins), splitList(brands)
	s.Installments, s.RequireCVV, s.Suspended = Bool(inst), Bool(cvv), Bool(susp)
	s.Require3DS = Bool(tds)
	s.CreatedAt, s.UpdatedAt = FromNS(ca), FromNS(ua)
	return &s, nil
}

func storeArgs(s *Store) []any {
	return []any{s.Name, s.ResultURL, s.ACResultURL, s.CompletionURL, strings.Join(s.AllowIPs, "\n"), strings.Join(s.AllowOrigins, "\n"),
		s.AuthCode, strings.Join(s.Brands, "\n"), s.MinAmount, s.MaxAmount, Int(s.Installments), Int(s.RequireCVV), Int(s.Suspended),
		s.Encoding, s.KickbackEncoding, s.KickbackSecret, s.NotifyEmail, s.StopNotice, Int(s.Require3DS)}
}

// NewStore returns a store with Kessai's defaults.
func NewStore(aid, name string) *Store {
	return &Store{AID: aid, Name: name, MinAmount: 1, MaxAmount: 9999999, RequireCVV: true, Encoding: "auto",
		KickbackEncoding: "utf-8", StopNotice: "immediate"}
}

// CreateStore inserts a store; ErrConflict when the store ID is taken.
func (db *DB) CreateStore(ctx context.Context, s *Store) error {
	now := db.Now()
	s.CreatedAt, s.UpdatedAt = now, now
	err := db.Tx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO stores(aid, name, result_url, ac_result_url, completion_url, allow_ips, allow_origins, auth_code, brands, min_amount, max_amount, installments, require_cvv, suspended, encoding, kickback_encoding, kickback_secret, notify_email, stop_notice, require_3ds, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			append(append([]any{s.AID}, storeArgs(s)...), NS(now), NS(now))...)
		return err
	})
	if IsUnique(err) {
		return fmt.Errorf("store %s already exists: %w", s.AID, ErrConflict)
	}
	return err
}

// UpdateStore writes every setting of s.
func (db *DB) UpdateStore(ctx context.Context, s *Store) error {
	s.UpdatedAt = db.Now()
	return db.Tx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(`UPDATE stores SET name=?, result_url=?, ac_result_url=?, completion_url=?, allow_ips=?, allow_origins=?, auth_code=?, brands=?, min_amount=?, max_amount=?, installments=?, require_cvv=?, suspended=?, encoding=?, kickback_encoding=?, kickback_secret=?, notify_email=?, stop_notice=?, require_3ds=?, updated_at=? WHERE aid=?`,
			append(storeArgs(s), NS(s.UpdatedAt), s.AID)...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("store %s: %w", s.AID, ErrNotFound)
		}
		return nil
	})
}

// GetStore reads one store; ErrNotFound when unknown.
func (db *DB) GetStore(ctx context.Context, aid string) (*Store, error) {
	s, err := scanStore(db.QueryRow(ctx, `SELECT `+storeCols+` FROM stores WHERE aid = ?`, aid))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return s, classify(err)
}

// ListStores lists all stores by ID.
func (db *DB) ListStores(ctx context.Context) ([]*Store, error) {
	rows, err := db.Query(ctx, `SELECT `+storeCols+` FROM stores ORDER BY aid`)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []*Store
	for rows.Next() {
		s, err := scanStore(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// Product is an item registered in the control panel, charged by its code (iid).
type Product struct {
	AID, IID, Name string
	Am, Tx, Sf     int64
	// Plan is the auto-charge plan the product defines, its wire parameters (actp, acam, …)
	// encoded as a query string; "" for a one-off product. Checked by autocharge.CheckProductPlan.
	Plan string
}

const productCols = `aid, iid, name, am, tx, sf, plan`

func scanProduct(r rowScanner) (*Product, error) {
	var p Product
	err := r.Scan(&p.AID, &p.IID, &p.Name, &p.Am, &p.Tx, &p.Sf, &p.Plan)
	return &p, err
}

// GetProduct reads a product; ErrNotFound when unknown.
func (db *DB) GetProduct(ctx context.Context, aid, iid string) (*Product, error) {
	p, err := scanProduct(db.QueryRow(ctx, `SELECT `+productCols+` FROM products WHERE aid = ? AND iid = ?`, aid, iid))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return p, classify(err)
}

// PutProduct creates or replaces a product.
func (db *DB) PutProduct(ctx context.Context, p *Product) error {
	return db.Tx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(`DELETE FROM products WHERE aid = ? AND iid = ?`, p.AID, p.IID); err != nil {
			return err
		}
		_, err := tx.Exec(`INSERT INTO products(`+productCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`, p.AID, p.IID, p.Name, p.Am, p.Tx, p.Sf, p.Plan)
		return err
	})
}

// InsertProduct creates a product; ErrConflict when the store already has one with this code.
func (db *DB) InsertProduct(ctx context.Context, p *Product) error {
	err := db.Tx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO products(`+productCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`, p.AID, p.IID, p.Name, p.Am, p.Tx, p.Sf, p.Plan)
		return err
	})
	if IsUnique(err) {
		return ErrConflict
	}
	return err
}

// Products lists a store's products.
func (db *DB) Products(ctx context.Context, aid string) ([]Product, error) {
	rows, err := db.Query(ctx, `SELECT `+productCols+` FROM products WHERE aid = ? ORDER BY iid`, aid)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []Product
	for rows.Next() {
		p, err := scanProduct(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *p)
	}
	return out, rows.Err()
}
