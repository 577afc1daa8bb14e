package vault

import (
	"crypto/rand"
	"fmt"
)

const secretAADPrefix = "kessai/vault/v1/secret:"

// SealSecret encrypts a small secret that is not a card number (a TOTP key, say) under the active
// key, with the same AES-256-GCM key ring as cards. The blob is bound to purpose and to its key ID
// (additional data), so a blob copied to another account or key ID does not open.
func (k *KeyRing) SealSecret(purpose string, secret []byte) (keyID string, blob []byte) {
	k.mu.RLock()
	id, kk := k.active, k.keys[k.active]
	k.mu.RUnlock()
	out := make([]byte, nonceSize, nonceSize+len(secret)+kk.aead.Overhead())
	_, _ = rand.Read(out) // crypto/rand.Read never fails (it crashes the program instead)
	return id, kk.aead.Seal(out, out[:nonceSize], secret, []byte(secretAADPrefix+purpose+":"+id))
}

// OpenSecret decrypts a blob sealed by SealSecret for the same purpose.
func (k *KeyRing) OpenSecret(purpose, keyID string, blob []byte) ([]byte, error) {
	k.mu.RLock()
	kk := k.keys[keyID]
	k.mu.RUnlock()
	if kk == nil {
		return nil, fmt.Errorf("%w (key %q)", ErrUnknownKey, keyID)
	}
	if len(blob) < nonceSize+kk.aead.Overhead() {
		return nil, ErrCorrupt
	}
	pt, err := kk.aead.Open(nil, blob[:nonceSize], blob[nonceSize:], []byte(secretAADPrefix+purpose+":"+keyID))
	if err != nil {
		return nil, ErrCorrupt
	}
	return pt, nil
}

// ResealSecret re-encrypts a secret under the active key (after a rotation); a blob already
// under the active key is returned unchanged.
func (k *KeyRing) ResealSecret(purpose, keyID string, blob []byte) (string, []byte, error) {
	if keyID == k.Active() {
		return keyID, blob, nil
	}
	pt, err := k.OpenSecret(purpose, keyID, blob)
	if err != nil {
		return "", nil, err
	}
	id, b := k.SealSecret(purpose, pt)
	clear(pt)
	return id, b, nil
}
