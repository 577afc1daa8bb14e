// Package auth signs people in to the merchant control panel and the operator console: password
// hashing (argon2id), sessions kept in the database so that every instance behind a load balancer
// shares them, and login throttling per account and per address.
package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters: OWASP's minimum recommendation (19 MiB, 2 passes), which keeps a login
// under ~50 ms on a shared machine while making offline guessing expensive.
const (
	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	saltLen      = 16
)

// MinPasswordLen is the shortest password accepted for a new account.
const MinPasswordLen = 10

// ErrWeakPassword refuses a password that is too short.
var ErrWeakPassword = fmt.Errorf("password must be at least %d characters", MinPasswordLen)

// CheckPasswordPolicy refuses passwords too weak to set.
func CheckPasswordPolicy(pw string) error {
	if len([]rune(pw)) < MinPasswordLen {
		return ErrWeakPassword
	}
	return nil
}

// HashPassword hashes pw with argon2id and a random salt, in the PHC string form
// $argon2id$v=19$m=…,t=…,p=…$salt$hash, so parameters can change without breaking old hashes.
func HashPassword(pw string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

var errBadHash = errors.New("malformed password hash")

// VerifyPassword reports whether pw matches hash, in time independent of where they differ.
func VerifyPassword(hash, pw string) bool {
	ok, _ := verify(hash, pw)
	return ok
}

func verify(hash, pw string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false, errBadHash
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 || m > 1<<20 || t > 16 {
		return false, errBadHash
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, errBadHash
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 64 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// dummyHash is verified against when the account does not exist, so that a wrong login name takes
// as long as a wrong password and response times do not reveal which accounts exist.
var dummyHash, _ = HashPassword("kessai-dummy-password-never-matches")

// Burn spends the time of one password verification without a real account.
func Burn(pw string) { VerifyPassword(dummyHash, pw) }
