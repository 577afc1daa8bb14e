package vault

import (
	"bytes"
	"errors"
	"testing"
)

func TestSealSecret(t *testing.T) {
	kr := GenerateKeyRing()
	secret := []byte("0123456789abcdefghij")
	id, blob := kr.SealSecret("totp:merchant:7", secret)
	if id != kr.Active() || bytes.Contains(blob, secret) {
		t.Fatal("not sealed under the active key")
	}
	got, err := kr.OpenSecret("totp:merchant:7", id, blob)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := kr.OpenSecret("totp:merchant:8", id, blob); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("another purpose opens it: %v", err)
	}
	tampered := bytes.Clone(blob)
	tampered[len(tampered)-1] ^= 1
	if _, err := kr.OpenSecret("totp:merchant:7", id, tampered); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("tampered blob: %v", err)
	}
	old := id
	kr.Rotate()
	nid, nblob, err := kr.ResealSecret("totp:merchant:7", old, blob)
	if err != nil || nid == old || nid != kr.Active() {
		t.Fatalf("reseal: %s %v", nid, err)
	}
	if err := kr.Retire(old); err != nil {
		t.Fatal(err)
	}
	if got, err := kr.OpenSecret("totp:merchant:7", nid, nblob); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("after retiring the old key: %v", err)
	}
	if _, err := kr.OpenSecret("totp:merchant:7", old, blob); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("retired key: %v", err)
	}
}
