package store

import (
	"encoding/binary"
	"math/bits"
)

// The permutation behind IDs.Format: a balanced Feistel network on 2·half bits whose round
// function is SipHash-2-4 (a keyed pseudo-random function built for short inputs), cycle-walked
// onto the range [lo, hi): a value that leaves the range is encrypted again until it lands inside,
// which keeps the map one-to-one on the range (Black & Rogaway, "Ciphers with arbitrary finite
// domains"). With the ID space (hi ≈ 0.71·2^50) that is 1.4 passes on average.
//
// Ten rounds, as NIST's FF1 format-preserving cipher uses: with halves of only 25 bits, the
// generic bounds on Feistel networks need more than the textbook four rounds before outputs stop
// betraying their inputs.
const (
	idHalfBits    = 25
	feistelRounds = 10
)

type feistel struct {
	k0, k1 uint64
	half   uint
	mask   uint64
	lo, hi uint64
}

func newFeistel(key [IDKeySize]byte, half uint, lo, hi uint64) feistel {
	if hi > 1<<(2*half) || lo >= hi {
		panic("store: bad permutation range")
	}
	return feistel{
		k0: binary.LittleEndian.Uint64(key[:8]), k1: binary.LittleEndian.Uint64(key[8:]),
		half: half, mask: 1<<half - 1, lo: lo, hi: hi,
	}
}

// permute maps x in [lo, hi) to its image in [lo, hi).
func (f *feistel) permute(x uint64) uint64 {
	for {
		l, r := x>>f.half, x&f.mask
		for i := uint64(0); i < feistelRounds; i++ {
			l, r = r, l^(f.round(i, r)&f.mask)
		}
		x = l<<f.half | r
		if x >= f.lo && x < f.hi {
			return x
		}
	}
}

// invert is permute's inverse.
func (f *feistel) invert(y uint64) uint64 {
	for {
		l, r := y>>f.half, y&f.mask
		for i := uint64(feistelRounds); i > 0; i-- {
			l, r = r^(f.round(i-1, l)&f.mask), l
		}
		y = l<<f.half | r
		if y >= f.lo && y < f.hi {
			return y
		}
	}
}

// round is SipHash-2-4 of the five bytes v (little-endian, 4 bytes) ‖ i (1 byte), v < 2^32.
func (f *feistel) round(i, v uint64) uint64 {
	return sipHash5(f.k0, f.k1, v|i<<32)
}

// sipHash5 is SipHash-2-4 (Aumasson & Bernstein) of a message of exactly five bytes, given as the
// low 40 bits of m in little-endian order: the message fits in SipHash's final block, so the hash
// is two compression rounds and four finalization rounds.
func sipHash5(k0, k1, m uint64) uint64 {
	v0 := k0 ^ 0x736f6d6570736575
	v1 := k1 ^ 0x646f72616e646f6d
	v2 := k0 ^ 0x6c7967656e657261
	v3 := k1 ^ 0x7465646279746573
	b := uint64(5)<<56 | m&(1<<40-1)
	v3 ^= b
	for range 2 {
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	}
	v0 ^= b
	v2 ^= 0xff
	for range 4 {
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	}
	return v0 ^ v1 ^ v2 ^ v3
}

func sipRound(v0, v1, v2, v3 uint64) (uint64, uint64, uint64, uint64) {
	v0 += v1
	v1 = bits.RotateLeft64(v1, 13)
	v1 ^= v0
	v0 = bits.RotateLeft64(v0, 32)
	v2 += v3
	v3 = bits.RotateLeft64(v3, 16)
	v3 ^= v2
	v0 += v3
	v3 = bits.RotateLeft64(v3, 21)
	v3 ^= v0
	v2 += v1
	v1 = bits.RotateLeft64(v1, 17)
	v1 ^= v2
	v2 = bits.RotateLeft64(v2, 32)
	return v0, v1, v2, v3
}
