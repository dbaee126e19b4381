package mfatest

import (
	"bytes"
	"context"
	"sort"
	"testing"
	"time"

	"porthole/broker/mfa"
)

// StoreSuite checks that an mfa.Store keeps the contract mfa relies on
// (conditional writes, unused-only listing, per-user isolation). newStore
// returns an empty store in which users "u1" and "u2" exist.
func StoreSuite(t *testing.T, newStore func(t *testing.T) mfa.Store) {
	ctx := context.Background()
	at := time.UnixMilli(1700000000123).UTC()
	codes := func(user, prefix string, n int) []mfa.RecoveryCode {
		var out []mfa.RecoveryCode
		for i := range n {
			out = append(out, mfa.RecoveryCode{ID: prefix + string(rune('a'+i)), UserID: user, Hash: "$argon2id$" + prefix, CreatedAt: at})
		}
		return out
	}
	ids := func(t *testing.T, s mfa.Store, user string) []string {
		t.Helper()
		cs, err := s.RecoveryCodes(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range cs {
			if c.UserID != user || !c.UsedAt.IsZero() || c.Hash == "" {
				t.Fatalf("RecoveryCodes(%s) returned %+v", user, c)
			}
			out = append(out, c.ID)
		}
		sort.Strings(out)
		return out
	}
	want := func(t *testing.T, what string, got, want bool, err error) {
		t.Helper()
		if err != nil || got != want {
			t.Fatalf("%s = %v, %v; want %v", what, got, err, want)
		}
	}
	eq := func(t *testing.T, what string, got, want []string) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s = %v, want %v", what, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s = %v, want %v", what, got, want)
			}
		}
	}

	t.Run("enrollment", func(t *testing.T) {
		s := newStore(t)
		_, found, err := s.TOTP(ctx, "u1")
		want(t, "TOTP before insert", found, false, err)
		e := mfa.Enrollment{UserID: "u1", SealedSecret: []byte{1, 0, 2, 255}, LastStep: 42, EnrolledAt: at}
		ok, err := s.InsertMFA(ctx, e, codes("u1", "x", 3))
		want(t, "InsertMFA", ok, true, err)
		ok, err = s.InsertMFA(ctx, mfa.Enrollment{UserID: "u1", SealedSecret: []byte{9}, LastStep: 1, EnrolledAt: at}, codes("u1", "y", 2))
		want(t, "second InsertMFA", ok, false, err)
		got, found, err := s.TOTP(ctx, "u1")
		want(t, "TOTP", found, true, err)
		if got.UserID != "u1" || !bytes.Equal(got.SealedSecret, e.SealedSecret) || got.LastStep != 42 || !got.EnrolledAt.Equal(at) {
			t.Fatalf("TOTP = %+v, want %+v", got, e)
		}
		eq(t, "codes after refused insert", ids(t, s, "u1"), []string{"xa", "xb", "xc"})
		_, found, err = s.TOTP(ctx, "u2")
		want(t, "TOTP(u2)", found, false, err)
	})

	t.Run("advance step", func(t *testing.T) {
		s := newStore(t)
		ok, err := s.AdvanceTOTPStep(ctx, "u1", 5)
		want(t, "Advance unenrolled", ok, false, err)
		_, _ = s.InsertMFA(ctx, mfa.Enrollment{UserID: "u1", SealedSecret: []byte{1}, LastStep: 10, EnrolledAt: at}, nil)
		_, _ = s.InsertMFA(ctx, mfa.Enrollment{UserID: "u2", SealedSecret: []byte{2}, LastStep: 10, EnrolledAt: at}, nil)
		for _, c := range []struct {
			step int64
			want bool
		}{{9, false}, {10, false}, {11, true}, {11, false}, {13, true}, {12, false}} {
			ok, err := s.AdvanceTOTPStep(ctx, "u1", c.step)
			want(t, "Advance", ok, c.want, err)
		}
		if e, _, _ := s.TOTP(ctx, "u1"); e.LastStep != 13 {
			t.Fatalf("LastStep = %d, want 13", e.LastStep)
		}
		if e, _, _ := s.TOTP(ctx, "u2"); e.LastStep != 10 {
			t.Fatalf("u2 LastStep = %d, want 10", e.LastStep)
		}
	})

	t.Run("recovery codes", func(t *testing.T) {
		s := newStore(t)
		_, _ = s.InsertMFA(ctx, mfa.Enrollment{UserID: "u1", SealedSecret: []byte{1}, EnrolledAt: at}, codes("u1", "p", 3))
		_, _ = s.InsertMFA(ctx, mfa.Enrollment{UserID: "u2", SealedSecret: []byte{2}, EnrolledAt: at}, codes("u2", "q", 2))
		ok, err := s.UseRecoveryCode(ctx, "u1", "pb", at)
		want(t, "Use", ok, true, err)
		ok, err = s.UseRecoveryCode(ctx, "u1", "pb", at)
		want(t, "Use again", ok, false, err)
		ok, err = s.UseRecoveryCode(ctx, "u1", "qa", at)
		want(t, "Use another user's code", ok, false, err)
		ok, err = s.UseRecoveryCode(ctx, "u1", "nope", at)
		want(t, "Use unknown code", ok, false, err)
		eq(t, "u1 unused", ids(t, s, "u1"), []string{"pa", "pc"})
		eq(t, "u2 unused", ids(t, s, "u2"), []string{"qa", "qb"})

		ok, err = s.ReplaceRecoveryCodes(ctx, "u1", codes("u1", "r", 2))
		want(t, "Replace", ok, true, err)
		eq(t, "u1 after replace", ids(t, s, "u1"), []string{"ra", "rb"})
		eq(t, "u2 after u1's replace", ids(t, s, "u2"), []string{"qa", "qb"})
		s2 := newStore(t)
		ok, err = s2.ReplaceRecoveryCodes(ctx, "u1", codes("u1", "s", 1))
		want(t, "Replace unenrolled", ok, false, err)
		eq(t, "codes of unenrolled", ids(t, s2, "u1"), nil)
	})

	t.Run("delete", func(t *testing.T) {
		s := newStore(t)
		ok, err := s.DeleteMFA(ctx, "u1")
		want(t, "Delete unenrolled", ok, false, err)
		_, _ = s.InsertMFA(ctx, mfa.Enrollment{UserID: "u1", SealedSecret: []byte{1}, EnrolledAt: at}, codes("u1", "p", 2))
		_, _ = s.InsertMFA(ctx, mfa.Enrollment{UserID: "u2", SealedSecret: []byte{2}, EnrolledAt: at}, codes("u2", "q", 2))
		ok, err = s.DeleteMFA(ctx, "u1")
		want(t, "Delete", ok, true, err)
		_, found, err := s.TOTP(ctx, "u1")
		want(t, "TOTP after delete", found, false, err)
		eq(t, "codes after delete", ids(t, s, "u1"), nil)
		eq(t, "u2 codes after u1's delete", ids(t, s, "u2"), []string{"qa", "qb"})
		ok, err = s.InsertMFA(ctx, mfa.Enrollment{UserID: "u1", SealedSecret: []byte{3}, EnrolledAt: at}, codes("u1", "p", 1))
		want(t, "re-insert after delete", ok, true, err)
		eq(t, "codes after re-insert", ids(t, s, "u1"), []string{"pa"})
	})
}
