package mfa_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/pquerna/otp/totp"

	"porthole/broker/mfa"
	"porthole/broker/mfa/mfatest"
	"porthole/broker/secretbox"
)

// A login's second step as the HTTP layer should run it: reserve the
// attempt on both limiters before touching the code (so parallel guesses
// count as they arrive), leave a wrong guess counted, Succeed the account
// and Refund the address on a right one, and show one generic message for
// every failure.
func Example_loginSecondStep() {
	ctx := context.Background()
	key, _ := secretbox.NewKey()
	box, _ := secretbox.Load("", func(string) (string, bool) { return key, true })
	m, _ := mfa.New(mfa.Config{Store: &mfatest.Memory{}, Box: box})
	accounts := mfa.NewLimiter(mfa.LimiterConfig{Free: 5})
	addrs := mfa.NewLimiter(mfa.LimiterConfig{Free: 10, MaxDelay: time.Minute, Forget: time.Hour})

	now := time.Unix(1700000025, 0)
	p, _ := m.Enroll("u1", "ann", "")
	first, _ := totp.GenerateCode(p.Secret, now)
	recovery, _ := m.Confirm(ctx, "u1", p, first, now)
	fmt.Println("recovery codes shown once:", len(recovery))

	secondStep := func(userID string, ip netip.Addr, code string, now time.Time) string {
		// Errors other than ErrLocked come only with a Store.
		account, wait, _ := accounts.Reserve(ctx, "user:"+userID, now)
		if wait > 0 {
			return fmt.Sprintf("429 retry after %v", wait)
		}
		addr, wait, _ := addrs.Reserve(ctx, mfa.IPKey(ip), now)
		if wait > 0 {
			_ = account.Refund(ctx) // not checked: not a guess
			return fmt.Sprintf("429 retry after %v", wait)
		}
		err := m.Verify(ctx, userID, code, now)
		if errors.Is(err, mfa.ErrInvalidCode) || errors.Is(err, mfa.ErrReplayed) {
			err = m.UseRecoveryCode(ctx, userID, code, now) // the same box accepts either
		}
		if err != nil {
			return "401 invalid code" // still counted; audit err itself, never the code
		}
		_ = account.Succeed(ctx)
		_ = addr.Refund(ctx)
		return "200 logged in (rotate the session id, set mfa_at)"
	}

	ip := netip.MustParseAddr("192.0.2.10")
	later := now.Add(time.Minute)
	c, _ := totp.GenerateCode(p.Secret, later)
	fmt.Println(secondStep("u1", ip, c, later))
	fmt.Println(secondStep("u1", ip, c, later)) // replay
	for range 5 {
		secondStep("u1", ip, "000000", later)
	}
	fmt.Println(secondStep("u1", ip, "000000", later))
	fmt.Println(secondStep("u1", ip, recovery[0], later.Add(2*time.Second)))
	// Output:
	// recovery codes shown once: 10
	// 200 logged in (rotate the session id, set mfa_at)
	// 401 invalid code
	// 429 retry after 1s
	// 200 logged in (rotate the session id, set mfa_at)
}
