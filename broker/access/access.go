// Package access runs entitlement requests: admins define entitlements
// (named rights on a device group, each with a request policy and an
// optional emergency policy), portal users and the CLI request them for a
// while with a justification, approvers decide, grants expire on their own
// and emergency grants wait for an admin's review. broker/policy makes
// every decision; this package loads and stores requests (kind "access" in
// the generic requests queue), audits each step and tells portal pages.
package access

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"porthole/broker/audit"
	"porthole/broker/live"
	"porthole/broker/policy"
	"porthole/broker/requests"
	"porthole/broker/sessions"
	"porthole/broker/settings"
	"porthole/broker/store"
	"porthole/internal/clock"
)

// Entitlement names an admin can define.
const (
	RemoteSupport    = "remote_support"
	UnattendedAccess = "unattended_access"
	BreakGlass       = "break_glass"
	ElevationCodes   = "elevation_codes"
)

// Names lists the entitlements in the order the portal offers them.
var Names = []string{RemoteSupport, UnattendedAccess, BreakGlass, ElevationCodes}

// Errors, matched with errors.Is (policy's own errors pass through).
var (
	ErrUnknownName = errors.New("access: unknown entitlement name (want remote_support, unattended_access, break_glass or elevation_codes)")
	ErrAmbiguous   = errors.New("access: this entitlement exists for several groups; name the group")
	ErrNotAllowed  = errors.New("access: you may not do this to this request")
	ErrNotAccess   = errors.New("access: not an access request")
)

type accessStore interface {
	Group(ctx context.Context, id string) (store.Group, error)
	Groups(ctx context.Context) ([]store.Group, error)
	PutEntitlement(ctx context.Context, e store.Entitlement) (string, error)
	DeleteEntitlement(ctx context.Context, id string) error
	EntitlementByID(ctx context.Context, id string) (store.Entitlement, error)
	Entitlements(ctx context.Context) ([]store.Entitlement, error)
	CreateRequest(ctx context.Context, r store.Request) error
	Request(ctx context.Context, id string) (store.Request, error)
	KindRequests(ctx context.Context, kind string) ([]store.Request, error)
	UpdateRequest(ctx context.Context, r store.Request, oldStatus, oldPayload string) error
	DeviceGroup(ctx context.Context, deviceID string) (string, error)
}

type auditor interface {
	Append(ctx context.Context, e audit.Event) (store.AuditRecord, error)
}

type settingsReader interface {
	Int(ctx context.Context, deviceID, key string) (int, error)
}

// Config wires a Service.
type Config struct {
	Store    accessStore
	Audit    auditor
	Settings settingsReader
	Live     *live.Hub // optional
	NewID    func() string
	Clock    clock.Clock
	Logger   *slog.Logger
	// NewTicker wakes the expiry loop (default sessions.NewRealTicker);
	// Tick is its period (default 1s).
	NewTicker func(time.Duration) sessions.Ticker
	Tick      time.Duration
}

// Service runs entitlements and access requests.
type Service struct {
	cfg Config
	log *slog.Logger
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg, log: cfg.Logger.With("component", "access")}
}

// Actor is who calls: the portal user, their role, whether they administer
// access (review, revoke any grant, see every request), and their address.
type Actor struct {
	policy.Principal
	Admin    bool
	SourceIP string
}

func (a Actor) audit() string { return "user:" + a.User }

// EntitlementView is an entitlement as the portal and CLI see it.
type EntitlementView struct {
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	GroupID   string         `json:"group_id"`
	GroupName string         `json:"group_name"`
	Request   policy.Policy  `json:"request"`
	Emergency *policy.Policy `json:"emergency,omitempty"`
	UpdatedAt time.Time      `json:"updated_at"`
}

func (e EntitlementView) policy() policy.Entitlement {
	return policy.Entitlement{Name: e.Name, Group: e.GroupID, Request: e.Request, Emergency: e.Emergency}
}

func (s *Service) view(ctx context.Context, e store.Entitlement, groups map[string]string) (EntitlementView, error) {
	v := EntitlementView{ID: e.ID, Name: e.Name, GroupID: e.GroupID, GroupName: groups[e.GroupID], UpdatedAt: e.UpdatedAt}
	if err := json.Unmarshal([]byte(e.Request), &v.Request); err != nil {
		return v, fmt.Errorf("entitlement %s request policy: %w", e.ID, err)
	}
	if e.Emergency != "" {
		v.Emergency = new(policy.Policy)
		if err := json.Unmarshal([]byte(e.Emergency), v.Emergency); err != nil {
			return v, fmt.Errorf("entitlement %s emergency policy: %w", e.ID, err)
		}
	}
	return v, nil
}

func (s *Service) groupNames(ctx context.Context) (map[string]string, error) {
	gs, err := s.cfg.Store.Groups(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(gs))
	for _, g := range gs {
		m[g.ID] = g.Name
	}
	return m, nil
}

// Entitlements lists every entitlement (everyone may see what they can request).
func (s *Service) Entitlements(ctx context.Context) ([]EntitlementView, error) {
	es, err := s.cfg.Store.Entitlements(ctx)
	if err != nil {
		return nil, err
	}
	groups, err := s.groupNames(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]EntitlementView, 0, len(es))
	for _, e := range es {
		v, err := s.view(ctx, e, groups)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (s *Service) entitlement(ctx context.Context, id string) (EntitlementView, error) {
	e, err := s.cfg.Store.EntitlementByID(ctx, id)
	if err != nil {
		return EntitlementView{}, err
	}
	groups, err := s.groupNames(ctx)
	if err != nil {
		return EntitlementView{}, err
	}
	return s.view(ctx, e, groups)
}

// PutEntitlement creates or replaces an entitlement (name and group say
// which) after checking its policies.
func (s *Service) PutEntitlement(ctx context.Context, who Actor, ent policy.Entitlement) (EntitlementView, error) {
	if !slices.Contains(Names, ent.Name) {
		return EntitlementView{}, ErrUnknownName
	}
	if err := ent.Validate(); err != nil {
		return EntitlementView{}, err
	}
	if _, err := s.cfg.Store.Group(ctx, ent.Group); err != nil {
		return EntitlementView{}, err
	}
	req, _ := json.Marshal(ent.Request)
	var emerg []byte
	if ent.Emergency != nil {
		emerg, _ = json.Marshal(ent.Emergency)
	}
	if err := s.record(ctx, who.audit(), who.SourceIP, "access.entitlement_saved", ent.Name, map[string]any{"group_id": ent.Group,
		"request": ent.Request, "emergency": ent.Emergency}); err != nil {
		return EntitlementView{}, err
	}
	id, err := s.cfg.Store.PutEntitlement(ctx, store.Entitlement{ID: s.cfg.NewID(), Name: ent.Name, GroupID: ent.Group, Request: string(req),
		Emergency: string(emerg), UpdatedAt: s.cfg.Clock.Now()})
	if err != nil {
		return EntitlementView{}, err
	}
	return s.entitlement(ctx, id)
}

// DeleteEntitlement removes an entitlement and revokes its grants in
// force, so no grant outlives what it was granted under; open requests for
// it can no longer be decided and expire.
func (s *Service) DeleteEntitlement(ctx context.Context, who Actor, id string) error {
	e, err := s.cfg.Store.EntitlementByID(ctx, id)
	if err != nil {
		return err
	}
	if err := s.record(ctx, who.audit(), who.SourceIP, "access.entitlement_deleted", e.Name, map[string]any{"group_id": e.GroupID,
		"entitlement_id": id}); err != nil {
		return err
	}
	if err := s.cfg.Store.DeleteEntitlement(ctx, id); err != nil {
		return err
	}
	_, err = s.revokeWhere(ctx, who, "the entitlement was deleted", func(p payload) bool { return p.EntitlementID == id })
	return err
}

// GroupDeleted revokes the grants in force on a deleted group (its
// entitlements went with it) and returns their request ids.
func (s *Service) GroupDeleted(ctx context.Context, who Actor, groupID string) ([]string, error) {
	return s.revokeWhere(ctx, who, "the device group was deleted", func(p payload) bool { return p.GroupID == groupID })
}

// revokeWhere revokes, as who and audited like a revoke step, every grant
// in force whose payload matches, and returns their request ids. It goes
// on past a failure, so one bad row does not keep the others in force.
func (s *Service) revokeWhere(ctx context.Context, who Actor, why string, match func(payload) bool) ([]string, error) {
	rows, err := s.cfg.Store.KindRequests(ctx, requests.KindAccess)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Clock.Now()
	var done []string
	var errs []error
	for _, row := range rows {
		var p payload
		if row.Status != store.RequestApproved || json.Unmarshal([]byte(row.Payload), &p) != nil || !match(p) || !p.Active(now) {
			continue
		}
		old := p
		if err := p.Revoke(who.Principal, why, now); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := s.record(ctx, who.audit(), who.SourceIP, stepAction[StepRevoke], row.ID, stepDetails(p, why)); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := s.save(ctx, who, row, old, p); err != nil {
			errs = append(errs, fmt.Errorf("revoke %s: %w", row.ID, err))
			continue
		}
		done = append(done, row.ID)
	}
	return done, errors.Join(errs...)
}

// payload is an access request's part of the generic queue row: which
// entitlement, and the policy request with its approvals and grant.
type payload struct {
	EntitlementID string `json:"entitlement_id"`
	GroupID       string `json:"group_id"`
	policy.Request
}

// NewRequest is what a requester asks for: an entitlement by id, or by name
// (and group, when the name exists for several groups).
type NewRequest struct {
	EntitlementID string
	Name          string
	Group         string // id or name
	Duration      time.Duration
	Justification string
	Emergency     bool
}

// find resolves the entitlement a NewRequest names.
func (s *Service) find(ctx context.Context, in NewRequest) (EntitlementView, error) {
	if in.EntitlementID != "" {
		return s.entitlement(ctx, in.EntitlementID)
	}
	all, err := s.Entitlements(ctx)
	if err != nil {
		return EntitlementView{}, err
	}
	var hits []EntitlementView
	for _, e := range all {
		if e.Name == in.Name && (in.Group == "" || in.Group == e.GroupID || in.Group == e.GroupName) {
			hits = append(hits, e)
		}
	}
	switch len(hits) {
	case 0:
		return EntitlementView{}, fmt.Errorf("entitlement %q: %w", in.Name, store.ErrNotFound)
	case 1:
		return hits[0], nil
	}
	return EntitlementView{}, ErrAmbiguous
}

// Create files a request; an emergency request under an auto-approving
// emergency policy is granted at once (and waits for review).
func (s *Service) Create(ctx context.Context, who Actor, in NewRequest) (View, error) {
	ent, err := s.find(ctx, in)
	if err != nil {
		return View{}, err
	}
	now := s.cfg.Clock.Now()
	pr, err := policy.New(ent.policy(), who.Principal, in.Duration, in.Justification, in.Emergency, now)
	if err != nil {
		return View{}, err
	}
	mins, err := s.cfg.Settings.Int(ctx, "", settings.RequestExpiry)
	if err != nil {
		return View{}, err
	}
	p := payload{EntitlementID: ent.ID, GroupID: ent.GroupID, Request: pr}
	row := store.Request{ID: s.cfg.NewID(), Kind: requests.KindAccess, DeviceID: ent.GroupID, Requester: who.User, Reason: pr.Justification,
		Payload: `{}`, Status: store.RequestPending, CreatedAt: now, ExpiresAt: now.Add(time.Duration(mins) * time.Minute)}
	details := map[string]any{"entitlement": ent.Name, "group_id": ent.GroupID, "duration": in.Duration.String(),
		"justification": pr.Justification, "emergency": in.Emergency}
	if err := s.record(ctx, who.audit(), who.SourceIP, "access.requested", row.ID, details); err != nil {
		return View{}, err
	}
	if err := s.cfg.Store.CreateRequest(ctx, row); err != nil {
		return View{}, err
	}
	if err := s.save(ctx, who, row, payload{EntitlementID: ent.ID, GroupID: ent.GroupID, Request: policy.Request{State: policy.Pending}}, p); err != nil {
		return View{}, err
	}
	return s.Get(ctx, who, row.ID)
}

// save writes p over the row (which holds old), auditing a grant that p
// newly holds; the caller has audited its own step.
func (s *Service) save(ctx context.Context, who Actor, row store.Request, old, p payload) error {
	if old.State != policy.Approved && p.State == policy.Approved {
		if err := s.record(ctx, "system", who.SourceIP, "access.granted", row.ID, map[string]any{"requester": p.Requester,
			"entitlement": p.Entitlement, "group_id": p.GroupID, "expires_at": p.ExpiresAt, "emergency": p.Emergency,
			"decided_by": p.DecidedBy, "needs_review": p.NeedsReview}); err != nil {
			return err
		}
	}
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	oldStatus, oldPayload := row.Status, row.Payload
	row.Payload, row.Status = string(b), statusOf(p.State)
	if p.State == policy.Approved || (p.State == policy.Expired && old.State == policy.Approved) {
		row.ExpiresAt = p.ExpiresAt
	}
	if p.DecidedBy != "" {
		row.DecidedBy, row.DecidedAt, row.Comment = p.DecidedBy, p.DecidedAt, p.Comment
	}
	if err := s.cfg.Store.UpdateRequest(ctx, row, oldStatus, oldPayload); err != nil {
		return err
	}
	s.publish(row)
	return nil
}

// statusOf maps a policy state to the queue's status column (the queue's
// pending/approved/denied/expired, plus cancelled and revoked).
func statusOf(st policy.State) string { return string(st) }

// load reads an access request and its entitlement; a pending request past
// its deadline, or a grant past its end, is expired first.
func (s *Service) load(ctx context.Context, id string) (store.Request, payload, EntitlementView, error) {
	row, err := s.cfg.Store.Request(ctx, id)
	if err != nil {
		return row, payload{}, EntitlementView{}, err
	}
	if row.Kind != requests.KindAccess {
		return row, payload{}, EntitlementView{}, ErrNotAccess
	}
	var p payload
	if err := json.Unmarshal([]byte(row.Payload), &p); err != nil {
		return row, p, EntitlementView{}, fmt.Errorf("access request %s payload: %w", id, err)
	}
	if s.expire(ctx, &row, &p) {
		if row, err = s.cfg.Store.Request(ctx, id); err != nil {
			return row, p, EntitlementView{}, err
		}
	}
	ent, err := s.entitlement(ctx, p.EntitlementID)
	if errors.Is(err, store.ErrNotFound) { // deleted since: nothing can be approved under it
		ent, err = EntitlementView{ID: p.EntitlementID, Name: p.Entitlement, GroupID: p.GroupID}, nil
	}
	return row, p, ent, err
}

// Step is one action on a request.
type Step string

// Steps a user can take on an access request.
const (
	StepApprove  Step = "approve"
	StepDeny     Step = "deny"
	StepEscalate Step = "escalate"
	StepCancel   Step = "cancel"
	StepRevoke   Step = "revoke"
	StepReview   Step = "review"
)

// audit actions of the steps; a denial is "access.request_denied" because
// "access.denied" already names a role's refusal on a route.
var stepAction = map[Step]string{StepApprove: "access.approved", StepDeny: "access.request_denied", StepEscalate: "access.escalated",
	StepCancel: "access.cancelled", StepRevoke: "access.revoked", StepReview: "access.reviewed"}

// Do takes a step on request id as who: the policy decides whether who may.
func (s *Service) Do(ctx context.Context, who Actor, id string, step Step, comment string) (View, error) {
	row, p, ent, err := s.load(ctx, id)
	if err != nil {
		return View{}, err
	}
	old := p
	old.Approvals = slices.Clone(p.Approvals)
	now := s.cfg.Clock.Now()
	pe := ent.policy()
	switch step {
	case StepApprove:
		err = p.Approve(pe, who.Principal, comment, now)
	case StepDeny:
		err = p.Deny(pe, who.Principal, comment, now)
	case StepEscalate:
		err = p.Escalate(pe, who.Principal, now)
	case StepCancel:
		err = p.Cancel(who.Principal, now)
	case StepRevoke:
		if !who.Admin && who.User != p.Requester && !approverOf(pe, p.Request, who.Principal) {
			return View{}, ErrNotAllowed
		}
		err = p.Revoke(who.Principal, comment, now)
	case StepReview:
		if !who.Admin {
			return View{}, ErrNotAllowed
		}
		err = p.Review(who.Principal, now)
	default:
		return View{}, fmt.Errorf("%w: unknown step %q", policy.ErrInvalid, step)
	}
	if err != nil {
		return View{}, err
	}
	if err := s.record(ctx, who.audit(), who.SourceIP, stepAction[step], row.ID, stepDetails(p, comment)); err != nil {
		return View{}, err
	}
	if err := s.save(ctx, who, row, old, p); err != nil {
		return View{}, err
	}
	return s.Get(ctx, who, id)
}

// stepDetails is the audit record's details of a step on p.
func stepDetails(p payload, comment string) map[string]any {
	return map[string]any{"entitlement": p.Entitlement, "group_id": p.GroupID, "requester": p.Requester, "emergency": p.Emergency,
		"state": string(p.State), "comment": comment, "justification": p.Justification, "duration": p.Duration.String()}
}

// approverOf reports whether who is an approver of r's current policy.
func approverOf(ent policy.Entitlement, r policy.Request, who policy.Principal) bool {
	p := ent.Request
	if r.Emergency && ent.Emergency != nil {
		p = *ent.Emergency
	}
	return slices.Contains(p.Approvers, "user:"+who.User) || slices.Contains(p.Approvers, "role:"+who.Role)
}

// expire moves a request whose deadline passed to expired (audited); it
// reports whether it did.
func (s *Service) expire(ctx context.Context, row *store.Request, p *payload) bool {
	now := s.cfg.Clock.Now()
	old := *p
	var ttl time.Duration
	if p.State == policy.Pending {
		ttl = max(row.ExpiresAt.Sub(p.CreatedAt), time.Nanosecond)
	}
	if !p.Expire(now, ttl) {
		return false
	}
	if err := s.record(ctx, "system", "", "access.expired", row.ID, map[string]any{"entitlement": p.Entitlement, "group_id": p.GroupID,
		"requester": p.Requester, "was": string(old.State), "emergency": p.Emergency}); err != nil {
		return false
	}
	if err := s.save(ctx, Actor{}, *row, old, *p); err != nil {
		if !errors.Is(err, store.ErrChanged) {
			s.log.Error("expire access request", "request_id", row.ID, "err", err)
		}
		return false
	}
	return true
}

// ExpireDue expires open requests past their deadline and grants past
// their end; it returns how many.
func (s *Service) ExpireDue(ctx context.Context) (int, error) {
	rows, err := s.cfg.Store.KindRequests(ctx, requests.KindAccess)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, row := range rows {
		if row.Status != store.RequestPending && row.Status != store.RequestApproved {
			continue
		}
		var p payload
		if json.Unmarshal([]byte(row.Payload), &p) != nil {
			continue
		}
		if s.expire(ctx, &row, &p) {
			n++
		}
	}
	return n, nil
}

// Run expires requests and grants as their deadlines pass, until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	sessions.ExpireEvery(ctx, s.log, "expire access requests", s.cfg.NewTicker, s.cfg.Tick, s.ExpireDue)
	return nil
}

// View is an access request as the portal and CLI see it, with what the
// caller may do to it.
type View struct {
	ID            string            `json:"id"`
	Entitlement   string            `json:"entitlement"`
	EntitlementID string            `json:"entitlement_id"`
	GroupID       string            `json:"group_id"`
	GroupName     string            `json:"group_name"`
	Requester     string            `json:"requester"`
	Justification string            `json:"justification"`
	DurationSecs  int64             `json:"duration_seconds"`
	Emergency     bool              `json:"emergency"`
	State         policy.State      `json:"state"`
	Approvals     []policy.Approval `json:"approvals"`
	Needed        int               `json:"approvals_needed"`
	CreatedAt     time.Time         `json:"created_at"`
	// Deadline is when an open request expires.
	Deadline    time.Time `json:"deadline"`
	DecidedBy   string    `json:"decided_by,omitempty"`
	DecidedAt   time.Time `json:"decided_at,omitzero"`
	Comment     string    `json:"comment,omitempty"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"`
	Active      bool      `json:"active"`
	NeedsReview bool      `json:"needs_review"`
	ReviewedBy  string    `json:"reviewed_by,omitempty"`
	// EmergencyAvailable says the entitlement has an emergency path.
	EmergencyAvailable bool `json:"emergency_available"`
	CanApprove         bool `json:"can_approve"`
	CanEscalate        bool `json:"can_escalate"`
	CanCancel          bool `json:"can_cancel"`
	CanRevoke          bool `json:"can_revoke"`
	CanReview          bool `json:"can_review"`
}

func (s *Service) viewOf(row store.Request, p payload, ent EntitlementView, who Actor, now time.Time) View {
	pe := ent.policy()
	pol := pe.Request
	if p.Emergency && pe.Emergency != nil {
		pol = *pe.Emergency
	}
	mine := who.User == p.Requester
	v := View{ID: row.ID, Entitlement: p.Entitlement, EntitlementID: p.EntitlementID, GroupID: p.GroupID, GroupName: ent.GroupName,
		Requester: p.Requester, Justification: p.Justification, DurationSecs: int64(p.Duration / time.Second), Emergency: p.Emergency,
		State: p.State, Approvals: p.Approvals, Needed: pol.Approvals, CreatedAt: p.CreatedAt, Deadline: row.ExpiresAt,
		DecidedBy: p.DecidedBy, DecidedAt: p.DecidedAt, Comment: p.Comment, ExpiresAt: p.ExpiresAt, Active: p.Active(now),
		NeedsReview: p.NeedsReview, ReviewedBy: p.ReviewedBy, EmergencyAvailable: pe.Emergency != nil,
		CanApprove: policy.CanApprove(pe, p.Request, who.Principal)}
	if v.Approvals == nil {
		v.Approvals = []policy.Approval{}
	}
	if pol.AutoApprove {
		v.Needed = 0
	}
	v.CanEscalate = mine && p.State == policy.Pending && !p.Emergency && pe.Emergency != nil
	v.CanCancel = mine && p.State == policy.Pending
	v.CanRevoke = v.Active && (who.Admin || mine || approverOf(pe, p.Request, who.Principal))
	v.CanReview = who.Admin && p.NeedsReview && !mine
	return v
}

// visible reports whether who may see a request: their own, ones they may
// approve or once could, and all of them for access admins.
func visible(v View, pe policy.Entitlement, p policy.Request, who Actor) bool {
	return who.Admin || v.Requester == who.User || approverOf(pe, p, who.Principal)
}

// Get returns one request if who may see it.
func (s *Service) Get(ctx context.Context, who Actor, id string) (View, error) {
	row, p, ent, err := s.load(ctx, id)
	if err != nil {
		return View{}, err
	}
	v := s.viewOf(row, p, ent, who, s.cfg.Clock.Now())
	if !visible(v, ent.policy(), p.Request, who) {
		return View{}, fmt.Errorf("access request: %w", store.ErrNotFound)
	}
	return v, nil
}

// Filter narrows List.
type Filter struct {
	State       policy.State // "" = any
	NeedsReview bool
	ActiveOnly  bool
}

// List returns the requests who may see, newest first.
func (s *Service) List(ctx context.Context, who Actor, f Filter) ([]View, error) {
	if _, err := s.ExpireDue(ctx); err != nil {
		return nil, err
	}
	rows, err := s.cfg.Store.KindRequests(ctx, requests.KindAccess)
	if err != nil {
		return nil, err
	}
	all, err := s.Entitlements(ctx)
	if err != nil {
		return nil, err
	}
	ents := map[string]EntitlementView{}
	for _, e := range all {
		ents[e.ID] = e
	}
	now := s.cfg.Clock.Now()
	out := []View{}
	for _, row := range rows {
		var p payload
		if err := json.Unmarshal([]byte(row.Payload), &p); err != nil {
			continue
		}
		ent, ok := ents[p.EntitlementID]
		if !ok {
			ent = EntitlementView{ID: p.EntitlementID, Name: p.Entitlement, GroupID: p.GroupID}
		}
		v := s.viewOf(row, p, ent, who, now)
		if !visible(v, ent.policy(), p.Request, who) || (f.State != "" && v.State != f.State) || (f.NeedsReview && !v.NeedsReview) ||
			(f.ActiveOnly && !v.Active) {
			continue
		}
		out = append(out, v)
	}
	return out, nil
}

// Grant is an active grant: who holds what on which group until when.
type Grant struct {
	RequestID   string    `json:"request_id"`
	User        string    `json:"user"`
	Entitlement string    `json:"entitlement"`
	GroupID     string    `json:"group_id"`
	GroupName   string    `json:"group_name"`
	Until       time.Time `json:"until"`
	Emergency   bool      `json:"emergency"`
}

// Grants lists the active grants.
func (s *Service) Grants(ctx context.Context) ([]Grant, error) {
	vs, err := s.List(ctx, Actor{Admin: true}, Filter{ActiveOnly: true})
	if err != nil {
		return nil, err
	}
	out := make([]Grant, 0, len(vs))
	for _, v := range vs {
		out = append(out, Grant{RequestID: v.ID, User: v.Requester, Entitlement: v.Entitlement, GroupID: v.GroupID, GroupName: v.GroupName,
			Until: v.ExpiresAt, Emergency: v.Emergency})
	}
	return out, nil
}

// Holding returns an active grant of name on group that user holds (the
// one that lasts longest): the check a feature makes to let a grant stand
// in for a standing right. ok is false when there is none.
func (s *Service) Holding(ctx context.Context, user, name, groupID string) (g Grant, ok bool, err error) {
	gs, err := s.Grants(ctx)
	if err != nil {
		return Grant{}, false, err
	}
	for _, c := range gs {
		if c.User == user && c.Entitlement == name && c.GroupID == groupID && (!ok || c.Until.After(g.Until)) {
			g, ok = c, true
		}
	}
	return g, ok, nil
}

// Covers reports whether the grant made by request id is still in force
// (approved, not revoked, not past its end) and deviceID is still in its
// group. Work started under a grant asks this to stop when the grant does,
// or when the device leaves the group.
func (s *Service) Covers(ctx context.Context, id, deviceID string) (bool, error) {
	_, p, _, err := s.load(ctx, id)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, ErrNotAccess) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !p.Active(s.cfg.Clock.Now()) {
		return false, nil
	}
	group, err := s.cfg.Store.DeviceGroup(ctx, deviceID)
	if err != nil {
		return false, err
	}
	return group != "" && group == p.GroupID, nil
}

func (s *Service) publish(row store.Request) {
	if s.cfg.Live == nil {
		return
	}
	s.cfg.Live.Publish(live.Event{Type: "request", ID: row.ID, Data: requests.Event{Kind: row.Kind, Status: row.Status}})
}

func (s *Service) record(ctx context.Context, actor, ip, action, target string, details map[string]any) error {
	_, err := s.cfg.Audit.Append(ctx, audit.Event{Actor: actor, Action: action, Target: target, SourceIP: ip, Details: details})
	if err != nil {
		s.log.Error("audit access event", "action", action, "err", err)
	}
	return err
}
