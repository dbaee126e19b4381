package mfa_test

import (
	"context"
	"testing"
	"time"

	"porthole/broker/mfa"
)

// The costs a login pays: one Verify, and a recovery-code attempt, which
// hashes every unused code (ten at most).
func BenchmarkVerify(b *testing.B) {
	f := newFixture(b)
	secret, _ := f.enroll(b, "u1", t0)
	now := t0.Add(time.Hour)
	for b.Loop() {
		now = now.Add(mfa.Period * time.Second)
		if err := f.m.Verify(context.Background(), "u1", code(b, secret, now), now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRecoveryCodeMiss(b *testing.B) {
	f := newFixture(b)
	f.enroll(b, "u1", t0)
	for b.Loop() {
		_ = f.m.UseRecoveryCode(context.Background(), "u1", "zzzzz-zzzzz", t0)
	}
}
