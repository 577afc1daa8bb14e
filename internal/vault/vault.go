// Package vault protects card data: card numbers (PANs) are sealed with AES-256-GCM under a key
// ring before they reach any store, can be found again through a keyed hash without decrypting, and
// are only ever shown or logged through Mask and Redact.
//
// A KeyRing holds several keys by ID: the active one seals, the others stay so that cards sealed
// before a rotation can still be opened (and re-sealed under the new key by a background job).
// Keys come from the KESSAI_VAULT_KEY environment variable or from a key file:
//
//	{"active":"<id>","keys":{"<id>":"<base64 32 bytes>",...},"lookup":"<base64 32 bytes>"}
//
// The lookup key (for Lookup and CheckValue) never changes on rotation, or every stored card hash
// would go stale. It is derived with HKDF-SHA256 from the ring's first key, and every Save writes it
// to the file explicitly, so it survives the first key being retired. A key file without "lookup"
// derives it from its active key: that is what a single-key file and a bare KESSAI_VAULT_KEY give,
// so moving a key between the two keeps every lookup hash valid.
package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// EnvVar is the environment variable that carries the vault key. main reads it and passes the value
// to LoadKeyRing or LoadOrCreate; this package never reads the environment itself.
const EnvVar = "KESSAI_VAULT_KEY"

// KeyFileName is the key file LoadOrCreate keeps in the data directory.
const KeyFileName = "vault.key"

// KeySize is the size of every vault key: AES-256.
const KeySize = 32

const (
	nonceSize   = 12
	aadPrefix   = "kessai/vault/v1/pan:" // additional data binds a blob to the key ID it claims
	lookupInfo  = "kessai/vault/v1/lookup"
	checkPrefix = "kcv1:"
	checkLabel  = "kessai/vault/v1/key-check"
)

// Errors returned by the vault. Callers map them to ER000: none of them is the customer's fault.
var (
	ErrNoKey       = errors.New("vault: no key configured (set " + EnvVar + " or give a key file)")
	ErrInvalidPAN  = errors.New("vault: not a card number (12–19 digits)")
	ErrUnknownKey  = errors.New("vault: sealed under a key that is not in the key ring")
	ErrCorrupt     = errors.New("vault: sealed card failed authentication (tampered, or not sealed by this key ring)")
	ErrKeyMismatch = errors.New("vault key does not match this database")
)

// KeyRing holds the vault keys. It is safe for concurrent use. Printing it (fmt, slog) shows key IDs
// only, never key material.
type KeyRing struct {
	mu     sync.RWMutex
	active string
	keys   map[string]*key
	lookup []byte // HMAC key for Lookup and CheckValue; constant across rotations
	// macs reuses Lookup's keyed HMAC states (hmac.New hashed the key again for every card)
	macs sync.Pool
}

type key struct {
	raw  []byte
	aead cipher.AEAD
}

// Sealed is an encrypted card number with the few facts about it that may be kept in the clear.
// Blob is nonce||ciphertext||tag; it is authenticated together with KeyID, so a blob moved under
// another key ID does not open.
type Sealed struct {
	KeyID  string
	Blob   []byte
	First6 string
	Last4  string
	Brand  string
	Hash   []byte // Lookup of the PAN: finds the same card again without decrypting
}

// String shows the masked card, never the blob, so a Sealed that slips into a log line is harmless.
func (s Sealed) String() string {
	return fmt.Sprintf("card(%s %s key=%s)", s.Brand, MaskStored(s.First6, s.Last4), s.KeyID)
}

// LogValue keeps slog from walking the struct and printing the blob.
func (s Sealed) LogValue() slog.Value { return slog.StringValue(s.String()) }

// KeyID is the ID a key gets when none is given: the first 8 hex digits of its SHA-256. It names
// the key without revealing anything useful about it.
func KeyID(k []byte) string {
	h := sha256.Sum256(k)
	return hex.EncodeToString(h[:4])
}

func newKey(raw []byte) (*key, error) {
	if len(raw) != KeySize {
		return nil, fmt.Errorf("vault: key is %d bytes, want %d (generate one with: openssl rand -base64 32)", len(raw), KeySize)
	}
	b, err := aes.NewCipher(raw)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	return &key{raw: slices.Clone(raw), aead: g}, nil
}

func deriveLookup(raw []byte) []byte {
	k, err := hkdf.Key(sha256.New, raw, nil, lookupInfo, KeySize)
	if err != nil { // only for absurd lengths
		panic("vault: hkdf: " + err.Error())
	}
	return k
}

// NewKeyRing returns a ring with the single 32-byte key raw, active, under its default KeyID; the
// lookup key is derived from it.
func NewKeyRing(raw []byte) (*KeyRing, error) {
	k, err := newKey(raw)
	if err != nil {
		return nil, err
	}
	id := KeyID(raw)
	return &KeyRing{active: id, keys: map[string]*key{id: k}, lookup: deriveLookup(raw)}, nil
}

// GenerateKeyRing returns a ring with one fresh random key.
func GenerateKeyRing() *KeyRing {
	kr, err := NewKeyRing(randomKey())
	if err != nil {
		panic(err) // a 32-byte key is always valid
	}
	return kr
}

func randomKey() []byte {
	b := make([]byte, KeySize)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it crashes the program instead)
	return b
}

// keyFile is the JSON form of a key ring.
type keyFile struct {
	Active string            `json:"active"`
	Keys   map[string]string `json:"keys"`
	Lookup string            `json:"lookup,omitempty"`
}

// LoadKeyRing builds the key ring from env, the value of KESSAI_VAULT_KEY, or else from keyFile.
// env wins when both are set, so an operator can override a file without editing it. env is either a
// standard-base64 32-byte key or a whole key file in JSON (to carry several keys through one
// variable). Neither set gives ErrNoKey.
func LoadKeyRing(env string, keyFile string) (*KeyRing, error) {
	if env = strings.TrimSpace(env); env != "" {
		if strings.HasPrefix(env, "{") {
			kr, err := parseKeyFile([]byte(env))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", EnvVar, err)
			}
			return kr, nil
		}
		raw, err := decodeKey(env)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvVar, err)
		}
		return NewKeyRing(raw)
	}
	if keyFile == "" {
		return nil, ErrNoKey
	}
	b, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("vault: reading key file: %w", err)
	}
	kr, err := parseKeyFile(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyFile, err)
	}
	return kr, nil
}

func decodeKey(s string) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("vault: key is not standard base64: %w", err)
	}
	if len(raw) != KeySize {
		return nil, fmt.Errorf("vault: key decodes to %d bytes, want %d (generate one with: openssl rand -base64 32)", len(raw), KeySize)
	}
	return raw, nil
}

func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func parseKeyFile(b []byte) (*KeyRing, error) {
	var f keyFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("vault: key file is not valid JSON: %w", err)
	}
	if len(f.Keys) == 0 {
		return nil, errors.New("vault: key file has no keys")
	}
	kr := &KeyRing{keys: make(map[string]*key, len(f.Keys))}
	for id, enc := range f.Keys {
		if !validID(id) {
			return nil, fmt.Errorf("vault: key ID %q: use 1–64 letters, digits, '-', '_' or '.'", id)
		}
		raw, err := decodeKey(enc)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", id, err)
		}
		k, err := newKey(raw)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", id, err)
		}
		kr.keys[id] = k
	}
	act, ok := kr.keys[f.Active]
	if !ok {
		return nil, fmt.Errorf("vault: active key %q is not among the keys", f.Active)
	}
	kr.active = f.Active
	if f.Lookup != "" {
		l, err := decodeKey(f.Lookup)
		if err != nil {
			return nil, fmt.Errorf("lookup key: %w", err)
		}
		kr.lookup = l
	} else {
		kr.lookup = deriveLookup(act.raw)
	}
	return kr, nil
}

func (k *KeyRing) marshal() []byte {
	k.mu.RLock()
	defer k.mu.RUnlock()
	f := keyFile{Active: k.active, Keys: make(map[string]string, len(k.keys)), Lookup: base64.StdEncoding.EncodeToString(k.lookup)}
	for id, kk := range k.keys {
		f.Keys[id] = base64.StdEncoding.EncodeToString(kk.raw)
	}
	b, _ := json.MarshalIndent(f, "", "  ") // a map of strings always marshals
	return append(b, '\n')
}

// Save writes the ring to path with mode 0600, atomically (temporary file, then rename), so a crash
// mid-rotation never leaves a half-written key file.
func (k *KeyRing) Save(path string) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".vault-key-*")
	if err != nil {
		return fmt.Errorf("vault: saving key file: %w", err)
	}
	name := tmp.Name()
	fail := func(err error) error {
		tmp.Close()
		os.Remove(name)
		return fmt.Errorf("vault: saving key file: %w", err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		return fail(err)
	}
	if _, err := tmp.Write(k.marshal()); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(name)
		return fmt.Errorf("vault: saving key file: %w", err)
	}
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return fmt.Errorf("vault: saving key file: %w", err)
	}
	return nil
}

// GenerateKeyFile creates path (mode 0600) holding a fresh random key, for the sandbox and first
// runs. It refuses to overwrite an existing file: losing a key loses every card sealed under it.
func GenerateKeyFile(path string) (*KeyRing, error) {
	kr := GenerateKeyRing()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("vault: creating key file: %w", err)
	}
	_, err = f.Write(kr.marshal())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("vault: writing key file: %w", err)
	}
	return kr, nil
}

// LoadOrCreate is the sandbox start-up path: the key from env (the value of KESSAI_VAULT_KEY) when
// set, else <dataDir>/vault.key, created with a fresh key when absent (created reports that, so the
// caller can log it loudly).
func LoadOrCreate(dataDir string, env string) (kr *KeyRing, created bool, err error) {
	if strings.TrimSpace(env) != "" {
		kr, err = LoadKeyRing(env, "")
		return kr, false, err
	}
	path := filepath.Join(dataDir, KeyFileName)
	kr, err = LoadKeyRing("", path)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return kr, false, err
	}
	kr, err = GenerateKeyFile(path)
	if errors.Is(err, os.ErrExist) { // another instance won the race: use its key
		kr, err = LoadKeyRing("", path)
		return kr, false, err
	}
	return kr, err == nil, err
}

// Active returns the ID of the key that seals.
func (k *KeyRing) Active() string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.active
}

// IDs returns the IDs of all keys in the ring, sorted.
func (k *KeyRing) IDs() []string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	ids := make([]string, 0, len(k.keys))
	for id := range k.keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Rotate adds a fresh random key and makes it the active one. Older keys stay for opening; the
// lookup key does not change. The caller saves the ring (Save) before sealing anything with it.
func (k *KeyRing) Rotate() (newID string) {
	for {
		raw := randomKey()
		nk, err := newKey(raw)
		if err != nil {
			panic(err)
		}
		id := KeyID(raw)
		k.mu.Lock()
		if _, dup := k.keys[id]; !dup {
			k.keys[id] = nk
			k.active = id
			k.mu.Unlock()
			return id
		}
		k.mu.Unlock()
	}
}

// Retire removes a key that is no longer needed, once every card sealed under it has been re-sealed.
// The active key cannot be retired.
func (k *KeyRing) Retire(id string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if id == k.active {
		return fmt.Errorf("vault: key %s is active and cannot be retired", id)
	}
	if _, ok := k.keys[id]; !ok {
		return fmt.Errorf("vault: key %s: %w", id, ErrUnknownKey)
	}
	delete(k.keys, id)
	return nil
}

// Seal encrypts a card number (spaces and hyphens allowed) under the active key.
func (k *KeyRing) Seal(pan string) (Sealed, error) {
	d, ok := NormalizePAN(pan)
	if !ok {
		return Sealed{}, ErrInvalidPAN
	}
	k.mu.RLock()
	id, kk := k.active, k.keys[k.active]
	k.mu.RUnlock()
	return Sealed{
		KeyID:  id,
		Blob:   seal(kk, id, d),
		First6: First6(d),
		Last4:  Last4(d),
		Brand:  Brand(d),
		Hash:   k.Lookup(d),
	}, nil
}

// Describe is Seal without the encryption: the masked parts (first 6, last 4, brand) and the
// keyed lookup digest of a card that is charged but not kept, which nothing will ever decrypt
// (KeyID and Blob empty). It spares a payment that keeps no card the cipher and the random nonce.
func (k *KeyRing) Describe(pan string) (Sealed, error) {
	d, ok := NormalizePAN(pan)
	if !ok {
		return Sealed{}, ErrInvalidPAN
	}
	return Sealed{First6: First6(d), Last4: Last4(d), Brand: Brand(d), Hash: k.Lookup(d)}, nil
}

func seal(kk *key, id, pan string) []byte {
	out := make([]byte, nonceSize, nonceSize+len(pan)+kk.aead.Overhead())
	_, _ = rand.Read(out)
	return kk.aead.Seal(out, out[:nonceSize], []byte(pan), aad(id))
}

func aad(id string) []byte { return []byte(aadPrefix + id) }

// Open decrypts a sealed card number. A blob that was altered, moved to another key ID, or whose
// clear First6/Last4 disagree with its content gives ErrCorrupt; a key ID not in the ring gives
// ErrUnknownKey.
func (k *KeyRing) Open(s Sealed) (string, error) {
	k.mu.RLock()
	kk := k.keys[s.KeyID]
	k.mu.RUnlock()
	if kk == nil {
		return "", fmt.Errorf("%w (key %q)", ErrUnknownKey, s.KeyID)
	}
	if len(s.Blob) < nonceSize+kk.aead.Overhead() {
		return "", ErrCorrupt
	}
	pt, err := kk.aead.Open(nil, s.Blob[:nonceSize], s.Blob[nonceSize:], aad(s.KeyID))
	if err != nil {
		return "", ErrCorrupt
	}
	pan := string(pt)
	clear(pt)
	if _, ok := NormalizePAN(pan); !ok ||
		(s.Last4 != "" && s.Last4 != Last4(pan)) || (s.First6 != "" && s.First6 != First6(pan)) {
		return "", ErrCorrupt
	}
	return pan, nil
}

// Reseal re-encrypts s under the active key, for the background job that follows a rotation. A card
// already under the active key is returned unchanged.
func (k *KeyRing) Reseal(s Sealed) (Sealed, error) {
	if s.KeyID == k.Active() {
		return s, nil
	}
	pan, err := k.Open(s)
	if err != nil {
		return Sealed{}, err
	}
	return k.Seal(pan)
}

// Lookup is a keyed hash (HMAC-SHA256) of the card number, spaces and hyphens removed: the same card
// always gives the same hash under this ring, across rotations, so a store can find a returning card
// by an indexed column without decrypting anything. Without the key, the hash cannot be brute-forced
// over the small space of card numbers.
func (k *KeyRing) Lookup(pan string) []byte {
	m, _ := k.macs.Get().(hash.Hash)
	if m == nil {
		m = hmac.New(sha256.New, k.lookup) // k.lookup never changes after construction
	} else {
		m.Reset()
	}
	m.Write([]byte(stripSeps(pan)))
	sum := m.Sum(nil)
	m.Reset() // nothing of the number stays in a pooled state
	k.macs.Put(m)
	return sum
}

// CheckValue identifies the ring's lookup key without revealing it. Stored in the database at its
// creation, it lets a later start with another key refuse to run (Verify) instead of sealing new
// cards that old ones can never be matched with. It does not change on rotation.
func (k *KeyRing) CheckValue() string {
	m := hmac.New(sha256.New, k.lookup)
	m.Write([]byte(checkLabel))
	return checkPrefix + hex.EncodeToString(m.Sum(nil)[:8])
}

// Verify compares the check value stored in the database with this ring's. On a mismatch the error
// (wrapping ErrKeyMismatch) says so in words an operator can act on. An empty check (a database that
// has none yet) is a mismatch too: the caller stores CheckValue when it creates the database.
func (k *KeyRing) Verify(check string) error {
	mine := k.CheckValue()
	if hmac.Equal([]byte(mine), []byte(strings.TrimSpace(check))) {
		return nil
	}
	return fmt.Errorf("%w (key check %s, the database expects %s): start with the key this database was created with", ErrKeyMismatch, mine, check)
}

// String shows the key IDs only.
func (k *KeyRing) String() string {
	return fmt.Sprintf("vault.KeyRing{active: %s, keys: %s}", k.Active(), strings.Join(k.IDs(), ","))
}

// GoString keeps %#v from printing key material.
func (k *KeyRing) GoString() string { return k.String() }

// LogValue keeps slog from printing key material.
func (k *KeyRing) LogValue() slog.Value { return slog.StringValue(k.String()) }
