package httpapi

import (
	"context"
	"net/http"
	"net/netip"
	"time"

	"porthole/broker/auth"
	"porthole/broker/mfa"
)

// The limiters' curves (ADR 0009). Accounts and Unknown are alike, so a
// lockout does not tell whether an account exists.
var (
	// AccountLimits: attempts on an account from an address it has not
	// logged in from: 5 free, then 1 s doubling to a 15-minute lockout.
	// Keys are one or two per user, so none is evicted.
	AccountLimits = mfa.LimiterConfig{NoEviction: true}
	// KnownAddressLimits: attempts on an account from one of its own
	// addresses: slowed (1 s doubling) to at most a minute, never locked
	// out. One key per user and known address (at most keepAddresses).
	KnownAddressLimits = mfa.LimiterConfig{MaxDelay: time.Minute, Forget: time.Hour, NoEviction: true}
	// UnknownNameLimits: names of no account, bounded (10,000 keys) and
	// evictable, apart from the accounts so no flood of made-up names
	// touches a real account's count.
	UnknownNameLimits = mfa.LimiterConfig{MaxEntries: 10000}
	// AddressLimits: per client address, across accounts (many users may
	// share a NAT, so gentler): 10 free, at most a minute.
	AddressLimits = mfa.LimiterConfig{Free: 10, MaxDelay: time.Minute, Forget: time.Hour}
)

const (
	// knownAddressFor is how long a completed login makes its address
	// known for the account.
	knownAddressFor = 90 * 24 * time.Hour
	// keepAddresses bounds the known addresses per user.
	keepAddresses = 10
)

// charge is one limiter key an attempt counts against.
type charge struct {
	l   *mfa.Limiter
	key string
}

// attempt is one password, code or enrollment-token attempt, counted
// against its account's key and its address's before it is checked.
type attempt struct{ account, addr *mfa.Reservation }

// succeed settles a right password or code: the account's failures are
// forgotten; the address only gets this attempt back (one valid account
// must not reset the limit for guessing others).
func (at attempt) succeed(ctx context.Context) error {
	err := at.account.Succeed(ctx)
	if aerr := at.addr.Refund(ctx); err == nil {
		err = aerr
	}
	return err
}

// refund settles an attempt that guessed nothing (the check did not run,
// or failed for a reason that is not a wrong guess).
func (at attempt) refund(ctx context.Context) error {
	err := at.account.Refund(ctx)
	if aerr := at.addr.Refund(ctx); err == nil {
		err = aerr
	}
	return err
}

// settle runs an attempt's settlement; the Store's errors are logged, not
// answered (the limiters hold the count in memory regardless), and the
// writes outlive the request.
func (a *API) settle(ctx context.Context, f func(context.Context) error) {
	if err := f(context.WithoutCancel(ctx)); err != nil {
		a.log.Error("brute-force limiter", "err", err)
	}
}

// reserve counts an attempt on account (may be zero: addresses only) and
// addr in one go, before it is checked. When either must wait, nothing is
// counted and the wait is returned.
func (a *API) reserve(ctx context.Context, now time.Time, account, addr charge) (attempt, time.Duration) {
	ctx = context.WithoutCancel(ctx) // a guesser who hangs up still counts
	var at attempt
	if account.l != nil {
		r, wait, err := account.l.Reserve(ctx, account.key, now)
		if wait > 0 {
			return attempt{}, wait
		}
		a.logLimiter(err)
		at.account = r
	}
	r, wait, err := addr.l.Reserve(ctx, addr.key, now)
	if wait > 0 {
		a.settle(ctx, at.account.Refund)
		return attempt{}, wait
	}
	a.logLimiter(err)
	at.addr = r
	return at, 0
}

func (a *API) logLimiter(err error) {
	if err != nil {
		a.log.Error("brute-force limiter", "err", err)
	}
}

// addrKey is the limiter key of the request's client address (IPv6 by /64).
func addrKey(r *http.Request) string {
	ip := clientIP(r)
	if ad, err := netip.ParseAddr(ip); err == nil {
		return mfa.IPKey(ad)
	}
	return "ip:" + ip
}

// addrCharge is the request's address in the address limiter; kind
// keeps apart what is guessed ("" for passwords and codes, "enroll:" for
// enrollment tokens), so a mistyped token in a deployment script does not
// slow its office's logins.
func (a *API) addrCharge(r *http.Request, kind string) charge {
	return charge{a.cfg.MFA.Addrs, kind + addrKey(r)}
}

// accountCharge is the key an attempt on userID's kind of secret ("login"
// or "mfa") counts against: the account's own, or, from an address the
// account has completed a login from, that address's for the account,
// which slows and never locks (ADR 0009).
func (a *API) accountCharge(ctx context.Context, r *http.Request, kind, userID string, now time.Time) (charge, error) {
	addr := addrKey(r)
	known, err := a.cfg.Store.KnownLoginAddress(ctx, userID, addr, now.Add(-knownAddressFor))
	if err != nil {
		return charge{}, err
	}
	if known {
		return charge{a.cfg.MFA.Known, kind + ":" + userID + "@" + addr}, nil
	}
	return charge{a.cfg.MFA.Accounts, kind + ":" + userID}, nil
}

// loginCharge is accountCharge for a password attempt, and the unknown
// names' limiter for a name of no account.
func (a *API) loginCharge(ctx context.Context, r *http.Request, look auth.Attempt, now time.Time) (charge, error) {
	if !look.Exists {
		return charge{a.cfg.MFA.Unknown, "login:" + look.Name}, nil
	}
	return a.accountCharge(ctx, r, "login", look.User.ID, now)
}

// loggedIn remembers the request's address for userID once a login is
// complete (every factor passed), so that attempts from it are slowed,
// not locked. A failure to remember is logged: the login stands.
func (a *API) loggedIn(r *http.Request, userID string) {
	if err := a.cfg.Store.RememberLoginAddress(context.WithoutCancel(r.Context()), userID, addrKey(r), a.cfg.Clock.Now(),
		keepAddresses); err != nil {
		a.log.Error("remember login address", "err", err)
	}
}
