package main

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"kessai/internal/store"
)

// TestStoreCreateRequiresThreeDS: `kessai store create` makes stores that require 3-D Secure
// unless told otherwise (--require-3ds=false); `store update --require-3ds=…` changes it, and an
// update that does not name the flag leaves it alone.
func TestStoreCreateRequiresThreeDS(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ctx := context.Background()
	run := func(args ...string) {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := cmdStore(ctx, args, &out, &errOut); err != nil {
			t.Fatalf("kessai store %v: %v\n%s", args, err, errOut.String())
		}
	}
	run("create", "--data", dir, "--aid", "310001", "--name", "新規")
	run("create", "--data", dir, "--aid", "310002", "--name", "3DSなし", "--require-3ds=false")
	run("update", "--data", dir, "--aid", "310001", "--name", "改名")
	get := func(aid string) *store.Store {
		t.Helper()
		db, err := store.Open(ctx, store.Config{DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		st, err := db.GetStore(ctx, aid)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if st := get("310001"); !st.Require3DS || st.Name != "改名" {
		t.Fatalf("store created by the CLI: %+v, want 3-D Secure required", st)
	}
	if get("310002").Require3DS {
		t.Fatal("--require-3ds=false ignored")
	}
	run("update", "--data", dir, "--aid", "310001", "--require-3ds=false")
	if get("310001").Require3DS {
		t.Fatal("store update --require-3ds=false ignored")
	}
}
