package vault

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testPAN = "4111111111111111"

func testRing(tb testing.TB) *KeyRing {
	tb.Helper()
	kr, err := NewKeyRing(bytes.Repeat([]byte{7}, KeySize))
	if err != nil {
		tb.Fatal(err)
	}
	return kr
}

func TestSealOpenRoundTrip(t *testing.T) {
	kr := testRing(t)
	for _, pan := range []string{testPAN, "4111 1111 1111 1111", "378282246310005", "123456789012", "4242424242424242424"} {
		s, err := kr.Seal(pan)
		if err != nil {
			t.Fatalf("Seal(%q): %v", pan, err)
		}
		got, err := kr.Open(s)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		want, _ := NormalizePAN(pan)
		if got != want {
			t.Errorf("Open = %q, want %q", got, want)
		}
		if s.KeyID != kr.Active() || s.Last4 != Last4(pan) || s.First6 != First6(pan) || s.Brand != Brand(pan) {
			t.Errorf("Sealed metadata wrong: %+v", s)
		}
	}
}

func TestSealRejectsNonPAN(t *testing.T) {
	kr := testRing(t)
	for _, s := range []string{"", "1234", "4111111111111111x", "12345678901234567890"} {
		if _, err := kr.Seal(s); !errors.Is(err, ErrInvalidPAN) {
			t.Errorf("Seal(%q) err = %v, want ErrInvalidPAN", s, err)
		}
	}
}

func TestSealedBlobHidesPAN(t *testing.T) {
	kr := testRing(t)
	s, err := kr.Seal(testPAN)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(s.Blob, []byte(testPAN)) || bytes.Contains(s.Blob, []byte("11111111")) {
		t.Fatalf("blob contains the card digits: %x", s.Blob)
	}
	if strings.Contains(fmt.Sprint(s), testPAN) || strings.Contains(fmt.Sprintf("%+v", s), testPAN) {
		t.Fatalf("printing a Sealed shows the card number")
	}
	s2, _ := kr.Seal(testPAN)
	if bytes.Equal(s.Blob, s2.Blob) {
		t.Fatal("two seals of the same card gave the same blob (nonce reuse)")
	}
}

func TestOpenDetectsTampering(t *testing.T) {
	kr := testRing(t)
	s, _ := kr.Seal(testPAN)
	for i := range s.Blob {
		b := bytes.Clone(s.Blob)
		b[i] ^= 0x01
		t2 := s
		t2.Blob = b
		if _, err := kr.Open(t2); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("flipping byte %d: err = %v, want ErrCorrupt", i, err)
		}
	}
	short := s
	short.Blob = s.Blob[:10]
	if _, err := kr.Open(short); !errors.Is(err, ErrCorrupt) {
		t.Errorf("short blob: err = %v, want ErrCorrupt", err)
	}
	wrongLast4 := s
	wrongLast4.Last4 = "4242"
	if _, err := kr.Open(wrongLast4); !errors.Is(err, ErrCorrupt) {
		t.Errorf("mismatched Last4: err = %v, want ErrCorrupt", err)
	}
}

func TestOpenRejectsBlobMovedToAnotherKeyID(t *testing.T) {
	kr := testRing(t)
	old, _ := kr.Seal(testPAN)
	kr.Rotate()
	moved := old
	moved.KeyID = kr.Active()
	if _, err := kr.Open(moved); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v, want ErrCorrupt", err)
	}
}

func TestOpenWithWrongKeyFails(t *testing.T) {
	a := testRing(t)
	s, _ := a.Seal(testPAN)
	b := GenerateKeyRing()
	if _, err := b.Open(s); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("other ring: err = %v, want ErrUnknownKey", err)
	}
	// Same ID, different key material (a hand-edited file): authentication fails.
	s.KeyID = b.Active()
	if _, err := b.Open(s); !errors.Is(err, ErrCorrupt) {
		t.Errorf("same ID other key: err = %v, want ErrCorrupt", err)
	}
}

func TestRotateOpenOldAndReseal(t *testing.T) {
	kr := testRing(t)
	first := kr.Active()
	old, _ := kr.Seal(testPAN)
	lookup := kr.Lookup(testPAN)
	check := kr.CheckValue()

	newID := kr.Rotate()
	if newID == first || kr.Active() != newID || len(kr.IDs()) != 2 {
		t.Fatalf("after Rotate: active %s, ids %v", kr.Active(), kr.IDs())
	}
	if got, err := kr.Open(old); err != nil || got != testPAN {
		t.Fatalf("Open old after rotate = %q, %v", got, err)
	}
	re, err := kr.Reseal(old)
	if err != nil {
		t.Fatal(err)
	}
	if re.KeyID != newID || bytes.Equal(re.Blob, old.Blob) {
		t.Fatalf("Reseal kept the old key: %v", re)
	}
	if !bytes.Equal(kr.Lookup(testPAN), lookup) || !bytes.Equal(re.Hash, lookup) {
		t.Fatal("Lookup changed across rotation")
	}
	if kr.CheckValue() != check {
		t.Fatal("CheckValue changed across rotation")
	}
	same, err := kr.Reseal(re)
	if err != nil || !bytes.Equal(same.Blob, re.Blob) {
		t.Fatalf("Reseal of an active-key card should be a no-op: %v", err)
	}
	if err := kr.Retire(newID); err == nil {
		t.Fatal("retiring the active key succeeded")
	}
	if err := kr.Retire(first); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Open(old); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Open under retired key: %v", err)
	}
	if got, err := kr.Open(re); err != nil || got != testPAN {
		t.Fatalf("Open resealed = %q, %v", got, err)
	}
}

func TestLookup(t *testing.T) {
	kr := testRing(t)
	if !bytes.Equal(kr.Lookup(testPAN), kr.Lookup("4111 1111-1111 1111")) {
		t.Error("Lookup depends on separators")
	}
	if bytes.Equal(kr.Lookup(testPAN), kr.Lookup("4242424242424242")) {
		t.Error("different cards share a Lookup")
	}
	if bytes.Equal(kr.Lookup(testPAN), GenerateKeyRing().Lookup(testPAN)) {
		t.Error("Lookup is not keyed")
	}
}

func TestSaveLoadKeepsLookupAndKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vault.key")
	kr := testRing(t)
	old, _ := kr.Seal(testPAN)
	kr.Rotate()
	if err := kr.Save(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	loaded, err := LoadKeyRing("", path)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Active() != kr.Active() || strings.Join(loaded.IDs(), ",") != strings.Join(kr.IDs(), ",") {
		t.Fatalf("loaded %v, saved %v", loaded, kr)
	}
	if got, err := loaded.Open(old); err != nil || got != testPAN {
		t.Fatalf("Open pre-rotation card after load = %q, %v", got, err)
	}
	// The lookup key was derived from the first key; once that key is retired and the ring saved,
	// the file still carries it.
	first := old.KeyID
	if err := loaded.Retire(first); err != nil {
		t.Fatal(err)
	}
	if err := loaded.Save(path); err != nil {
		t.Fatal(err)
	}
	reloaded, err := LoadKeyRing("", path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(reloaded.Lookup(testPAN), old.Hash) || reloaded.CheckValue() != kr.CheckValue() {
		t.Fatal("lookup key not preserved through rotate, retire, save and load")
	}
}

func TestEnvAndFileAgreeOnLookup(t *testing.T) {
	raw := bytes.Repeat([]byte{9}, KeySize)
	env := base64.StdEncoding.EncodeToString(raw)
	fromEnv, err := LoadKeyRing(env, "/nonexistent")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "k.json")
	os.WriteFile(path, []byte(`{"active":"main","keys":{"main":"`+env+`"}}`), 0o600)
	fromFile, err := LoadKeyRing("", path)
	if err != nil {
		t.Fatal(err)
	}
	if fromFile.Active() != "main" {
		t.Errorf("explicit ID lost: %s", fromFile.Active())
	}
	if fromEnv.CheckValue() != fromFile.CheckValue() || !bytes.Equal(fromEnv.Lookup(testPAN), fromFile.Lookup(testPAN)) {
		t.Error("the same key gives different lookups from env and file")
	}
	fromJSONEnv, err := LoadKeyRing(`{"active":"main","keys":{"main":"`+env+`"}}`, "")
	if err != nil || fromJSONEnv.CheckValue() != fromEnv.CheckValue() {
		t.Errorf("JSON in env: %v", err)
	}
}

func TestLoadKeyRingErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o600)
		return p
	}
	good := base64.StdEncoding.EncodeToString(make([]byte, 32))
	tests := []struct {
		name, env, file, want string
	}{
		{"nothing", "", "", "no key configured"},
		{"bad base64", "not base64!!", "", "not standard base64"},
		{"short key", base64.StdEncoding.EncodeToString(make([]byte, 16)), "", "16 bytes, want 32"},
		{"missing file", "", filepath.Join(dir, "nope"), "reading key file"},
		{"bad json", "", write("a", "{"), "not valid JSON"},
		{"no keys", "", write("b", `{"active":"x","keys":{}}`), "no keys"},
		{"active missing", "", write("c", `{"active":"x","keys":{"y":"`+good+`"}}`), `active key "x"`},
		{"bad id", "", write("d", `{"active":"a b","keys":{"a b":"`+good+`"}}`), "key ID"},
		{"bad key in file", "", write("e", `{"active":"x","keys":{"x":"AAAA"}}`), "3 bytes"},
		{"bad lookup", "", write("f", `{"active":"x","keys":{"x":"`+good+`"},"lookup":"AAAA"}`), "lookup key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadKeyRing(tt.env, tt.file)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestEnvWinsOverFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vault.key")
	fileRing, err := GenerateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	kr, err := LoadKeyRing(env, path)
	if err != nil {
		t.Fatal(err)
	}
	if kr.Active() == fileRing.Active() {
		t.Fatal("file key used although env was set")
	}
}

func TestLoadOrCreate(t *testing.T) {
	dir := t.TempDir()
	kr, created, err := LoadOrCreate(dir, "")
	if err != nil || !created {
		t.Fatalf("first start: created=%v err=%v", created, err)
	}
	fi, err := os.Stat(filepath.Join(dir, KeyFileName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	again, created, err := LoadOrCreate(dir, "")
	if err != nil || created {
		t.Fatalf("second start: created=%v err=%v", created, err)
	}
	if again.CheckValue() != kr.CheckValue() {
		t.Fatal("second start loaded a different key")
	}
	if _, err := GenerateKeyFile(filepath.Join(dir, KeyFileName)); err == nil {
		t.Fatal("GenerateKeyFile overwrote an existing key file")
	}
	env := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))
	fromEnv, created, err := LoadOrCreate(t.TempDir(), env)
	if err != nil || created || fromEnv.Active() != KeyID(bytes.Repeat([]byte{2}, 32)) {
		t.Fatalf("env start: %v created=%v err=%v", fromEnv, created, err)
	}
}

func TestVerify(t *testing.T) {
	kr := testRing(t)
	if err := kr.Verify(kr.CheckValue()); err != nil {
		t.Fatal(err)
	}
	other := GenerateKeyRing()
	err := other.Verify(kr.CheckValue())
	if !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("err = %v, want ErrKeyMismatch", err)
	}
	if !strings.Contains(err.Error(), "vault key does not match this database (key check") {
		t.Errorf("message not actionable: %v", err)
	}
}

func TestKeyRingPrintsNoKeyMaterial(t *testing.T) {
	raw := bytes.Repeat([]byte{0xAB}, KeySize)
	kr, _ := NewKeyRing(raw)
	b64 := base64.StdEncoding.EncodeToString(raw)
	for _, s := range []string{fmt.Sprint(kr), fmt.Sprintf("%v", kr), fmt.Sprintf("%+v", kr), fmt.Sprintf("%#v", kr), kr.LogValue().String()} {
		if strings.Contains(s, b64) || strings.Contains(s, "abababab") || strings.Contains(s, "171 171") {
			t.Errorf("printed key material: %s", s)
		}
	}
}

func BenchmarkSeal(b *testing.B) {
	kr := testRing(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kr.Seal(testPAN); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	kr := testRing(b)
	s, _ := kr.Seal(testPAN)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kr.Open(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRedact(b *testing.B) {
	line := `time=2026-01-01T00:00:00Z level=INFO msg=request path=/gateway/gateway.aspx aid=123456 cod=ORDER-1 cn=4111111111111111 am=1000`
	b.ReportAllocs()
	for b.Loop() {
		_ = Redact(line)
	}
}

// Describe gives what Seal gives a card that is not kept — the masked parts and the same lookup
// digest — and nothing that could be decrypted; a non-number is refused as Seal refuses it.
func TestDescribeIsSealWithoutTheCipher(t *testing.T) {
	kr := testRing(t)
	for _, pan := range []string{testPAN, "4111 1111 1111 1111", "378282246310005"} {
		s, err := kr.Seal(pan)
		if err != nil {
			t.Fatal(err)
		}
		d, err := kr.Describe(pan)
		if err != nil {
			t.Fatal(err)
		}
		if d.First6 != s.First6 || d.Last4 != s.Last4 || d.Brand != s.Brand || !bytes.Equal(d.Hash, s.Hash) {
			t.Fatalf("Describe(%q) = %+v, Seal gave %+v", pan, d, s)
		}
		if d.Blob != nil || d.KeyID != "" {
			t.Fatalf("Describe(%q) holds a blob or key: %+v", pan, d)
		}
	}
	if _, err := kr.Describe("1234"); !errors.Is(err, ErrInvalidPAN) {
		t.Fatalf("Describe(1234): %v", err)
	}
}
