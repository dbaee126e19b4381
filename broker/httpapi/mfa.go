package httpapi

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"porthole/broker/auth"
	"porthole/broker/mfa"
	"porthole/broker/settings"
	"porthole/broker/store"
	"porthole/internal/wire"
)

// MFA is the second-factor wiring of the API: the manager that enrolls and
// verifies TOTP and recovery codes, and the brute-force limiters every
// password and code attempt goes through.
type MFA struct {
	Manager *mfa.Manager
	// The brute-force limiters (ADR 0009); each defaults when nil.
	// Accounts counts attempts on existing accounts from addresses they
	// have not logged in from (keys "login:ID", "mfa:ID"; locks, up to 15
	// minutes; never evicted: bounded by the number of users). Known
	// counts attempts from an address the account has completed a login
	// from ("login:ID@ADDR"; slowed, at most a minute, never locked out).
	// Unknown counts names of no account ("login:NAME"; like Accounts, so
	// a lockout says nothing about existence, but bounded and evictable).
	// Addrs counts per client address ("ip:…", "enroll:ip:…").
	Accounts *mfa.Limiter
	Known    *mfa.Limiter
	Unknown  *mfa.Limiter
	Addrs    *mfa.Limiter

	mu      sync.Mutex
	pending map[string]pendingEnrollment // by web session hash; guarded by mu
}

// pendingTTL bounds how long an enrollment shown to a user waits for its
// first code.
const pendingTTL = 10 * time.Minute

type pendingEnrollment struct {
	p       mfa.Pending
	expires time.Time
}

func (m *MFA) withDefaults() *MFA {
	if m == nil {
		m = &MFA{}
	}
	if m.Accounts == nil {
		m.Accounts = mfa.NewLimiter(AccountLimits)
	}
	if m.Known == nil {
		m.Known = mfa.NewLimiter(KnownAddressLimits)
	}
	if m.Unknown == nil {
		m.Unknown = mfa.NewLimiter(UnknownNameLimits)
	}
	if m.Addrs == nil {
		m.Addrs = mfa.NewLimiter(AddressLimits)
	}
	return m
}

func (m *MFA) putPending(session string, p mfa.Pending, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pending == nil {
		m.pending = make(map[string]pendingEnrollment)
	}
	for k, v := range m.pending {
		if !now.Before(v.expires) {
			delete(m.pending, k)
		}
	}
	m.pending[session] = pendingEnrollment{p: p, expires: now.Add(pendingTTL)}
}

func (m *MFA) getPending(session string, now time.Time) (mfa.Pending, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.pending[session]
	if !ok || !now.Before(v.expires) {
		return mfa.Pending{}, false
	}
	return v.p, true
}

func (m *MFA) dropPending(session string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.pending, session)
}

// Errors of the MFA routes, mapped to statuses in fail.
var (
	errMFAPending   = errors.New("second factor required: finish logging in")
	errNotPending   = errors.New("no login is waiting for a second factor")
	errNoEnrollment = errors.New("no enrollment in progress: start again")
	errNeedsBrowser = errors.New("this needs a portal session")
	errMFAOff       = errors.New("mfa is not configured")
	errEnrollFirst  = errors.New("this account must set up two-factor authentication in the portal first")
	errPasskeyOwed  = errors.New("your role needs a passkey to log in: use one, or register one")
)

func (a *API) mfaRoutes(m *http.ServeMux) {
	m.HandleFunc("POST /api/login/mfa", a.mfaAuthed(a.loginMFA))
	m.HandleFunc("POST /api/cli/login/mfa", a.cliLoginMFA)
	m.HandleFunc("GET /api/mfa", a.mfaAuthed(a.mfaStatus))
	m.HandleFunc("POST /api/mfa/enroll", a.mfaAuthed(a.mfaEnroll))
	m.HandleFunc("GET /api/mfa/enroll/qr.png", a.mfaAuthed(a.mfaQR))
	m.HandleFunc("POST /api/mfa/confirm", a.mfaAuthed(a.mfaConfirm))
	m.HandleFunc("POST /api/mfa/stepup", a.authed("", a.mfaStepUp))
	m.HandleFunc("POST /api/mfa/recovery-codes", a.authed("", a.mfaRegenerate))
	m.HandleFunc("GET /api/users/{id}/mfa", a.authed(auth.ManageUsers, a.userMFAStatus))
}

// mfaAuthed is authed for the few routes a session waiting for its second
// factor may call (and any logged-in caller too): no permission beyond
// being the user whose password was checked.
func (a *API) mfaAuthed(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := a.resolve(r)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, p))
		if a.scopeAllows(w, r, "") {
			next(w, r)
		}
	}
}

// CodeRequest carries one TOTP or recovery code (login second step,
// enrollment confirmation, step-up).
type CodeRequest struct {
	Code string `json:"code"`
}

// Validate bounds the code; its format is checked by package mfa.
func (c *CodeRequest) Validate() error {
	if c.Code == "" || len(c.Code) > 64 {
		return fmt.Errorf("%w: code required (at most 64 characters)", wire.ErrInvalid)
	}
	return nil
}

// CLICodeRequest is the CLI's second login step: the ticket the password
// step returned, the code, and the name for the API token.
type CLICodeRequest struct {
	Ticket    string `json:"ticket"`
	Code      string `json:"code"`
	TokenName string `json:"token_name,omitempty"`
}

// Validate bounds the fields.
func (c *CLICodeRequest) Validate() error {
	if c.Ticket == "" || len(c.Ticket) > 128 || len(c.TokenName) > 128 {
		return fmt.Errorf("%w: ticket required; ticket and token name at most 128 characters", wire.ErrInvalid)
	}
	return (&CodeRequest{Code: c.Code}).Validate()
}

// limitedCode runs check, a one-time code check for userID, behind the code
// limiters (the account's, see accountCharge, and the address's): the attempt
// is reserved before the code is looked at, so parallel guesses count as
// they arrive; a caller locked out is refused with 429 and audited as
// failAction with reason "locked"; a failure stays counted when counts(err)
// says it was a guess (otherwise it is refunded), and is audited through
// codeFailure and answered; a success forgets the account's failures.
// details go into both audit events. It answers the request itself when it
// returns false.
func (a *API) limitedCode(w http.ResponseWriter, r *http.Request, userID, username string, now time.Time,
	failAction string, details map[string]any, counts func(error) bool, check func() error) bool {
	ctx := r.Context()
	acct, err := a.accountCharge(ctx, r, "mfa", userID, now)
	if err != nil {
		a.fail(w, r, err)
		return false
	}
	at, wait := a.reserve(ctx, now, acct, a.addrCharge(r, ""))
	if wait > 0 {
		locked := map[string]any{"reason": "locked"}
		for k, v := range details {
			locked[k] = v
		}
		_ = a.record(r, failAction, userID, locked)
		tooMany(w, wait)
		return false
	}
	if err := check(); err != nil {
		if !counts(err) {
			a.settle(ctx, at.refund)
		}
		a.codeFailure(w, r, "user:"+username, failAction, userID, err, details)
		return false
	}
	a.settle(ctx, at.succeed)
	return true
}

// wrongGuess is limitedCode's count for login and step-up codes: every
// failure but "not enrolled", which guesses nothing.
func wrongGuess(err error) bool { return !errors.Is(err, mfa.ErrNotEnrolled) }

// invalidCode is limitedCode's count for enrollment: only a wrong code.
func invalidCode(err error) bool { return errors.Is(err, mfa.ErrInvalidCode) }

func tooMany(w http.ResponseWriter, wait time.Duration) {
	secs := int(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeJSON(w, http.StatusTooManyRequests, map[string]any{"error": "too many failed attempts, try again later", "retry_after": secs})
}

// secondFactor says what a user must do after the password: "verify" when
// enrolled, "enroll" when the portal requires MFA and the user has none,
// "" when nothing.
func (a *API) secondFactor(ctx context.Context, userID string) (string, error) {
	if a.cfg.MFA.Manager == nil {
		return "", nil
	}
	st, err := a.cfg.MFA.Manager.Status(ctx, userID)
	if err != nil {
		return "", err
	}
	if st.Enrolled {
		return "verify", nil
	}
	req, err := a.cfg.Settings.Bool(ctx, "", settings.MFARequirePortal)
	if err != nil {
		return "", err
	}
	if req {
		return "enroll", nil
	}
	return "", nil
}

// checkCode accepts a TOTP code or, failing that, an unused recovery code.
// It reports which one worked ("totp" or "recovery").
func (a *API) checkCode(ctx context.Context, userID, code string, now time.Time) (string, error) {
	m := a.cfg.MFA.Manager
	if m == nil {
		return "", errMFAOff
	}
	err := m.Verify(ctx, userID, code, now)
	if err == nil {
		return "totp", nil
	}
	if !errors.Is(err, mfa.ErrInvalidCode) {
		return "", err // replayed, not enrolled, or internal
	}
	if rerr := m.UseRecoveryCode(ctx, userID, code, now); rerr != nil {
		if errors.Is(rerr, mfa.ErrInvalidCode) {
			return "", err
		}
		return "", rerr
	}
	return "recovery", nil
}

// codeFailure audits a refused code (the reason, never the code) and
// answers. Wrong and replayed codes get one generic message.
func (a *API) codeFailure(w http.ResponseWriter, r *http.Request, actor, action, userID string, err error, details map[string]any) {
	reason := "invalid"
	switch {
	case errors.Is(err, mfa.ErrReplayed):
		reason = "replayed"
	case errors.Is(err, mfa.ErrNotEnrolled):
		reason = "not_enrolled"
	case errors.Is(err, mfa.ErrInvalidCode):
	default:
		reason = "error"
	}
	d := map[string]any{"reason": reason}
	for k, v := range details {
		d[k] = v
	}
	if aerr := a.recordActor(r, actor, action, userID, d); aerr != nil {
		a.log.Error("audit mfa failure", "err", aerr)
	}
	a.fail(w, r, err)
}

// loginMFA is the portal's second login step: a TOTP or recovery code for
// a pending session, which is then replaced by a full one (new id).
func (a *API) loginMFA(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	if !p.MFAPending {
		a.fail(w, r, errNotPending)
		return
	}
	if p.PendingFactor == "passkey" {
		a.fail(w, r, errPasskeyOwed)
		return
	}
	var req CodeRequest
	if err := wire.DecodeJSON(r.Body, maxBody, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	now := a.cfg.Clock.Now()
	var method string
	if !a.limitedCode(w, r, p.UserID, p.Username, now, "mfa.failed", map[string]any{"step": "login"}, wrongGuess, func() (err error) {
		method, err = a.checkCode(r.Context(), p.UserID, req.Code, now)
		return err
	}) {
		return
	}
	if err := a.record(r, "login.ok", p.UserID, map[string]any{"mfa": method}); err != nil {
		a.fail(w, r, err)
		return
	}
	mfaAt := time.Time{}
	if method == "totp" {
		mfaAt = now // a recovery code logs in but does not count as a step-up
	}
	secret, err := a.cfg.Auth.CompleteMFA(r.Context(), p.SessionHash, p.UserID, mfaAt)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.loggedIn(r, p.UserID)
	a.setSessionCookie(w, secret)
	writeJSON(w, http.StatusOK, meView{Username: p.Username, Role: string(p.Role)})
}

// cliLoginMFA is the CLI's second login step: the ticket (a pending
// session's secret) and a code buy an API token.
func (a *API) cliLoginMFA(w http.ResponseWriter, r *http.Request) {
	var req CLICodeRequest
	if err := wire.DecodeJSON(r.Body, maxBody, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	p, err := a.cfg.Auth.Session(r.Context(), req.Ticket)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if !p.MFAPending {
		a.fail(w, r, errNotPending)
		return
	}
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, p))
	now := a.cfg.Clock.Now()
	var method string
	if !a.limitedCode(w, r, p.UserID, p.Username, now, "mfa.failed", map[string]any{"step": "login", "via": "cli"}, wrongGuess, func() (err error) {
		method, err = a.checkCode(r.Context(), p.UserID, req.Code, now)
		return err
	}) {
		return
	}
	if err := a.cfg.Auth.EndSession(r.Context(), p.SessionHash); err != nil {
		a.fail(w, r, err)
		return
	}
	u, err := a.cfg.Store.UserByID(r.Context(), p.UserID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.issueCLIToken(w, r, u, req.TokenName, method)
}

type mfaStatusView struct {
	Enrolled          bool       `json:"enrolled"`
	EnrolledAt        *time.Time `json:"enrolled_at,omitempty"`
	RecoveryCodesLeft int        `json:"recovery_codes_left"`
	// Required: the portal requires MFA of every user.
	Required bool `json:"required"`
	// Pending: this session still has to pass (or set up) its second factor.
	Pending bool `json:"pending"`
	// SupportStepUp: starting a remote support session needs a TOTP code
	// within StepUpMinutes (global setting; devices may override).
	SupportStepUp bool `json:"support_step_up"`
	// PrivilegedStepUp: so do creating break-glass accounts and issuing
	// elevation codes.
	PrivilegedStepUp bool `json:"privileged_step_up"`
	StepUpMinutes    int  `json:"step_up_minutes"`
	// StepUpFresh: this session's last TOTP is recent enough.
	StepUpFresh bool `json:"step_up_fresh"`
	// Passkeys: how many the user has registered. PendingFactor: what a
	// pending session owes ("" a TOTP code or its enrollment, "passkey").
	Passkeys      int    `json:"passkeys"`
	PendingFactor string `json:"pending_factor,omitempty"`
	// StepUpMethods: what this session can step up with ("code",
	// "passkey", "idp"), in the order the page offers them; PhishingResistant:
	// the role needs a passkey (or a phishing-resistant IdP sign-in).
	StepUpMethods     []string `json:"step_up_methods"`
	PhishingResistant bool     `json:"phishing_resistant_required"`
	// SSOProvider: the identity provider the account signs in with, if any.
	SSOProvider string `json:"sso_provider,omitempty"`
}

func (a *API) mfaStatus(w http.ResponseWriter, r *http.Request) {
	if a.cfg.MFA.Manager == nil {
		a.fail(w, r, errMFAOff)
		return
	}
	p := principal(r)
	ctx := r.Context()
	st, err := a.cfg.MFA.Manager.Status(ctx, p.UserID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	v := mfaStatusView{Enrolled: st.Enrolled, RecoveryCodesLeft: st.RecoveryCodesLeft, Pending: p.MFAPending}
	if st.Enrolled {
		v.EnrolledAt = &st.EnrolledAt
	}
	if v.Required, err = a.cfg.Settings.Bool(ctx, "", settings.MFARequirePortal); err != nil {
		a.fail(w, r, err)
		return
	}
	if v.SupportStepUp, err = a.cfg.Settings.Bool(ctx, "", settings.MFARequireSupport); err != nil {
		a.fail(w, r, err)
		return
	}
	if v.PrivilegedStepUp, err = a.cfg.Settings.Bool(ctx, "", settings.MFARequirePrivileged); err != nil {
		a.fail(w, r, err)
		return
	}
	if v.StepUpMinutes, err = a.cfg.Settings.Int(ctx, "", settings.MFAStepUpMinutes); err != nil {
		a.fail(w, r, err)
		return
	}
	v.PendingFactor = p.PendingFactor
	if v.PhishingResistant, err = a.roleNeedsPR(r, string(p.Role)); err != nil {
		a.fail(w, r, err)
		return
	}
	v.StepUpFresh = a.stepUpFresh(p, v.StepUpMinutes, v.PhishingResistant)
	var st2 identityFactors
	if st2, err = a.factors(r, p); err != nil {
		a.fail(w, r, err)
		return
	}
	v.Passkeys, v.SSOProvider, v.StepUpMethods = st2.passkeys, st2.provider, st2.methods(v.PhishingResistant)
	writeJSON(w, http.StatusOK, v)
}

// enrollView is a started enrollment: the secret to type in, and where the
// page loads the QR code from (same origin; the secret is never in a URL).
type enrollView struct {
	Secret string `json:"secret"`
	QRURL  string `json:"qr_url"`
}

func (a *API) mfaEnroll(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	m := a.cfg.MFA.Manager
	switch {
	case m == nil:
		a.fail(w, r, errMFAOff)
		return
	case p.SessionHash == "":
		a.fail(w, r, errNeedsBrowser)
		return
	}
	st, err := m.Status(r.Context(), p.UserID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if st.Enrolled {
		a.fail(w, r, mfa.ErrAlreadyEnrolled)
		return
	}
	pend, err := m.Enroll(p.UserID, p.Username, mfa.DefaultIssuer)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.cfg.MFA.putPending(p.SessionHash, pend, a.cfg.Clock.Now())
	writeJSON(w, http.StatusOK, enrollView{Secret: pend.Secret, QRURL: "/api/mfa/enroll/qr.png"})
}

func (a *API) mfaQR(w http.ResponseWriter, r *http.Request) {
	pend, ok := a.cfg.MFA.getPending(principal(r).SessionHash, a.cfg.Clock.Now())
	if !ok {
		a.fail(w, r, errNoEnrollment)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Content-Length", strconv.Itoa(len(pend.QRPNG)))
	_, _ = w.Write(pend.QRPNG)
}

// mfaConfirm completes an enrollment with its first code, shows the
// recovery codes once, and rotates the session (a pending one becomes full).
func (a *API) mfaConfirm(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	var req CodeRequest
	if err := wire.DecodeJSON(r.Body, maxBody, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	now := a.cfg.Clock.Now()
	pend, ok := a.cfg.MFA.getPending(p.SessionHash, now)
	if !ok || a.cfg.MFA.Manager == nil {
		a.fail(w, r, errNoEnrollment)
		return
	}
	var codes []string
	if !a.limitedCode(w, r, p.UserID, p.Username, now, "mfa.enroll_failed", nil, invalidCode, func() (err error) {
		codes, err = a.cfg.MFA.Manager.Confirm(r.Context(), p.UserID, pend, req.Code, now)
		return err
	}) {
		return
	}
	a.cfg.MFA.dropPending(p.SessionHash)
	// Fail closed: an enrollment that cannot be audited is undone.
	if err := a.record(r, "mfa.enrolled", p.UserID, map[string]any{"during_login": p.MFAPending}); err != nil {
		_ = a.cfg.MFA.Manager.Reset(r.Context(), p.UserID)
		a.fail(w, r, err)
		return
	}
	if p.MFAPending {
		_ = a.record(r, "login.ok", p.UserID, map[string]any{"mfa": "enrolled"})
	}
	secret, err := a.cfg.Auth.CompleteMFA(r.Context(), p.SessionHash, p.UserID, now)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if p.MFAPending {
		a.loggedIn(r, p.UserID)
	}
	a.setSessionCookie(w, secret)
	writeJSON(w, http.StatusOK, map[string]any{"recovery_codes": codes, "username": p.Username, "role": string(p.Role)})
}

// verifyTOTP is the step-up check shared by /api/mfa/stepup and recovery
// code regeneration: a fresh TOTP code (not a recovery code), limited like
// logins. It answers the request itself when it returns false.
func (a *API) verifyTOTP(w http.ResponseWriter, r *http.Request, action string) bool {
	p := principal(r)
	if p.SessionHash == "" {
		a.fail(w, r, errNeedsBrowser)
		return false
	}
	if a.cfg.MFA.Manager == nil {
		a.fail(w, r, errMFAOff)
		return false
	}
	var req CodeRequest
	if err := wire.DecodeJSON(r.Body, maxBody, &req); err != nil {
		a.fail(w, r, err)
		return false
	}
	now := a.cfg.Clock.Now()
	if !a.limitedCode(w, r, p.UserID, p.Username, now, "mfa.failed", map[string]any{"step": action}, wrongGuess, func() error {
		return a.cfg.MFA.Manager.Verify(r.Context(), p.UserID, req.Code, now)
	}) {
		return false
	}
	if err := a.cfg.Auth.StepUp(r.Context(), p.SessionHash); err != nil {
		a.fail(w, r, err)
		return false
	}
	return true
}

func (a *API) mfaStepUp(w http.ResponseWriter, r *http.Request) {
	if !a.verifyTOTP(w, r, "step_up") {
		return
	}
	if err := a.record(r, "mfa.step_up", principal(r).UserID, nil); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "verified"})
}

func (a *API) mfaRegenerate(w http.ResponseWriter, r *http.Request) {
	if !a.verifyTOTP(w, r, "recovery_codes") {
		return
	}
	p := principal(r)
	if err := a.record(r, "mfa.recovery_codes_regenerated", p.UserID, nil); err != nil {
		a.fail(w, r, err)
		return
	}
	codes, err := a.cfg.MFA.Manager.RegenerateRecoveryCodes(r.Context(), p.UserID, a.cfg.Clock.Now())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"recovery_codes": codes})
}

func (a *API) userMFAStatus(w http.ResponseWriter, r *http.Request) {
	u, err := a.cfg.Store.UserByID(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if a.cfg.MFA.Manager == nil {
		a.fail(w, r, errMFAOff)
		return
	}
	st, err := a.cfg.MFA.Manager.Status(r.Context(), u.ID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	v := mfaStatusView{Enrolled: st.Enrolled, RecoveryCodesLeft: st.RecoveryCodesLeft}
	if st.Enrolled {
		v.EnrolledAt = &st.EnrolledAt
	}
	writeJSON(w, http.StatusOK, v)
}

// stepUpRule is a setting that asks for a fresh TOTP code before an
// action, the action's name in the refusal, and the refusal's audit action.
type stepUpRule struct{ key, action, audit string }

var (
	stepUpSupport    = stepUpRule{settings.MFARequireSupport, "remote support", "session.step_up_required"}
	stepUpBreakGlass = stepUpRule{settings.MFARequirePrivileged, "creating a break-glass account", "mfa.step_up_required"}
	stepUpCode       = stepUpRule{settings.MFARequirePrivileged, "issuing an elevation code", "mfa.step_up_required"}
)

// stepUpOK refuses to start a support session on a device whose
// settings require MFA unless the caller's session verified a TOTP code
// within the step-up window. It answers the request when it returns false.
func (a *API) stepUpOK(w http.ResponseWriter, r *http.Request, deviceID string) bool {
	return a.steppedUp(w, r, deviceID, stepUpSupport)
}

// steppedUp applies rule on deviceID: when its setting is on, the
// caller's session must have verified a TOTP code within the step-up
// window. The refusal (403 with step_up "code", "enroll" or "portal", so
// the page can ask for a code and retry) is audited.
func (a *API) steppedUp(w http.ResponseWriter, r *http.Request, deviceID string, rule stepUpRule) bool {
	ctx := r.Context()
	required, err := a.cfg.Settings.Bool(ctx, deviceID, rule.key)
	if err != nil {
		a.fail(w, r, err) // unreadable settings deny
		return false
	}
	if !required {
		return true
	}
	minutes, err := a.cfg.Settings.Int(ctx, deviceID, settings.MFAStepUpMinutes)
	if err != nil {
		a.fail(w, r, err)
		return false
	}
	p := principal(r)
	pr, err := a.roleNeedsPR(r, string(p.Role))
	if err != nil {
		a.fail(w, r, err)
		return false
	}
	if a.stepUpFresh(p, minutes, pr) {
		return true
	}
	f, err := a.factors(r, p)
	if err != nil {
		a.fail(w, r, err)
		return false
	}
	methods := f.methods(pr)
	need, msg := "enroll", rule.action+" needs two-factor authentication: set it up (or register a passkey) on the Account page first"
	if pr && len(methods) == 0 {
		msg = rule.action + " needs a passkey for your role: register one on the Account page first"
	}
	if len(methods) > 0 {
		need = methods[0]
		what := map[string]string{"code": "a fresh authenticator code", "passkey": "your passkey",
			"idp": "signing in again at your identity provider"}[need]
		msg = fmt.Sprintf("%s needs %s (verified within %d minutes)", rule.action, what, minutes)
	}
	if p.SessionHash == "" {
		need, msg = "portal", rule.action+" needs a fresh step-up: do it from the portal"
	}
	_ = a.record(r, rule.audit, deviceID, map[string]any{"need": need, "setting": rule.key})
	writeJSON(w, http.StatusForbidden, map[string]any{"error": msg, "step_up": need, "methods": orEmpty(methods)})
	return false
}

// stepUpFresh: the session's last step-up is within the window and, when
// the role needs a phishing-resistant factor, was one (a passkey, or an
// IdP sign-in the provider asserted as one).
func (a *API) stepUpFresh(p auth.Principal, minutes int, phishingResistant bool) bool {
	if !(mfa.StepUp{Window: time.Duration(minutes) * time.Minute}).Fresh(p.MFAAt, a.cfg.Clock.Now()) {
		return false
	}
	return !phishingResistant || p.MFAMethod == "passkey" || p.MFAMethod == "idp-phr"
}

func (a *API) roleNeedsPR(r *http.Request, role string) (bool, error) {
	return a.needsPhishingResistant(r, store.User{Role: role}, false)
}

// identityFactors are the step-up factors a user has.
type identityFactors struct {
	totp     bool
	passkeys int
	provider string // an identity provider the user signs in with
}

func (a *API) factors(r *http.Request, p auth.Principal) (identityFactors, error) {
	var f identityFactors
	if a.cfg.MFA.Manager != nil {
		st, err := a.cfg.MFA.Manager.Status(r.Context(), p.UserID)
		if err != nil {
			return f, err
		}
		f.totp = st.Enrolled
	}
	cs, err := a.cfg.Store.UserWebAuthnCredentials(r.Context(), p.UserID)
	if err != nil {
		return f, err
	}
	f.passkeys = len(cs)
	if a.cfg.SSO != nil {
		if prov, err := a.ssoProviderOf(r, p); err == nil {
			f.provider = prov
		} else if !errors.Is(err, errNoIdP) {
			return f, err
		}
	}
	return f, nil
}

// methods are the step-ups the user can do, by identity: a TOTP code for
// local users who set one up (not when the role needs a phishing-resistant
// factor), a passkey, a fresh sign-in at the user's identity provider.
func (f identityFactors) methods(phishingResistant bool) []string {
	var out []string
	if f.totp && !phishingResistant {
		out = append(out, "code")
	}
	if f.passkeys > 0 {
		out = append(out, "passkey")
	}
	if f.provider != "" {
		out = append(out, "idp")
	}
	return out
}
