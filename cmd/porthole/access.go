package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"porthole/internal/wire"
)

// accessRequest is the part of an access request the CLI shows.
type accessRequest struct {
	ID            string                `json:"id"`
	Entitlement   string                `json:"entitlement"`
	GroupName     string                `json:"group_name"`
	GroupID       string                `json:"group_id"`
	Requester     string                `json:"requester"`
	Justification string                `json:"justification"`
	DurationSecs  int64                 `json:"duration_seconds"`
	Emergency     bool                  `json:"emergency"`
	State         string                `json:"state"`
	Approvals     []struct{ By string } `json:"approvals"`
	Needed        int                   `json:"approvals_needed"`
	ExpiresAt     time.Time             `json:"expires_at"`
	NeedsReview   bool                  `json:"needs_review"`
	CanApprove    bool                  `json:"can_approve"`
	CanEscalate   bool                  `json:"can_escalate"`
}

// marker is the emergency sign every list shows.
func (r accessRequest) marker() string {
	if r.Emergency {
		return "⚡"
	}
	return ""
}

func (r accessRequest) group() string {
	if r.GroupName != "" {
		return r.GroupName
	}
	return r.GroupID
}

// summary is the one-line answer to a step.
func (r accessRequest) summary() string {
	s := fmt.Sprintf("Request %s: %s%s on %s for %s, %s (%d/%d approvals)", r.ID, r.marker(), r.Entitlement, r.group(), r.Requester,
		r.State, len(r.Approvals), r.Needed)
	if r.State == "approved" {
		s += ", granted until " + when(r.ExpiresAt)
	}
	if r.NeedsReview {
		s += ", needs review"
	}
	return s + "."
}

// cmdRequest files an access request: porthole request create ENTITLEMENT.
func cmdRequest(ctx context.Context, args []string, out io.Writer) error {
	const u = "usage: porthole request create ENTITLEMENT --for 1h --reason TEXT [--group G] [--emergency] [--json]"
	if len(args) < 2 || args[0] != "create" || args[1] == "" || args[1][0] == '-' {
		return &exitError{2, errors.New(u)}
	}
	fs := newFlags("request create")
	dur := fs.Duration("for", time.Hour, "how long the grant should last")
	reason := fs.String("reason", "", "justification (required by most policies)")
	group := fs.String("group", "", "device group name or id (when the entitlement exists for several)")
	emergency := fs.Bool("emergency", false, "use the emergency policy (only for entitlements that enable it)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args[2:]); err != nil {
		return err
	}
	req := wire.AccessRequestCreate{Entitlement: args[1], Group: *group, DurationSeconds: int64(*dur / time.Second),
		Justification: *reason, Emergency: *emergency}
	if err := req.Validate(); err != nil {
		return &exitError{2, err}
	}
	var res accessRequest
	if err := authed(ctx, "POST", "/api/access/requests", req, &res); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(out, res)
	}
	_, err := fmt.Fprintln(out, res.summary())
	return err
}

// taskSteps are the steps "porthole task" takes on a request.
var taskSteps = []string{"approve", "deny", "escalate", "cancel", "revoke", "review"}

// cmdTask lists the access requests the user can see and acts on one.
func cmdTask(ctx context.Context, args []string, out io.Writer) error {
	u := "usage: porthole task list [--all | --state S | --review] [--json] | porthole task " + strings.Join(taskSteps, "|") +
		" ID [--comment T] [--json]"
	if len(args) == 0 {
		return &exitError{2, errors.New(u)}
	}
	if args[0] == "list" {
		fs := newFlags("task list")
		all := fs.Bool("all", false, "every state, not only pending")
		state := fs.String("state", "pending", "pending, approved, denied, cancelled, revoked or expired")
		review := fs.Bool("review", false, "emergency grants waiting for review")
		asJSON := fs.Bool("json", false, "print JSON")
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		q := url.Values{}
		switch {
		case *review:
			q.Set("needs_review", "1")
		case !*all:
			q.Set("state", *state)
		}
		return list(ctx, out, *asJSON, "/api/access/requests?"+q.Encode(),
			[]string{"ID", "", "ENTITLEMENT", "GROUP", "REQUESTER", "FOR", "STATE", "APPROVALS", "UNTIL", "YOU MAY", "REASON"},
			func(r accessRequest) []string {
				var may []string
				if r.CanApprove {
					may = append(may, "approve", "deny")
				}
				if r.CanEscalate {
					may = append(may, "escalate")
				}
				until := "-"
				if r.State == "approved" {
					until = when(r.ExpiresAt)
				}
				state := r.State
				if r.NeedsReview {
					state += " (needs review)"
				}
				return []string{r.ID, r.marker(), r.Entitlement, r.group(), r.Requester, (time.Duration(r.DurationSecs) * time.Second).String(),
					state, fmt.Sprintf("%d/%d", len(r.Approvals), r.Needed), until, strings.Join(may, ","), r.Justification}
			})
	}
	step := args[0]
	if !slices.Contains(taskSteps, step) {
		return &exitError{2, errors.New(u)}
	}
	id, rest, ok := idArg(args[1:])
	if !ok {
		return &exitError{2, fmt.Errorf("usage: porthole task %s ID [--comment T] [--json]", step)}
	}
	fs := newFlags("task " + step)
	comment := fs.String("comment", "", "a comment recorded with the step")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, rest); err != nil {
		return err
	}
	body := wire.DecisionRequest{Comment: *comment}
	if err := body.Validate(); err != nil {
		return &exitError{2, err}
	}
	var res accessRequest
	if err := authed(ctx, "POST", "/api/access/requests/"+url.PathEscape(id)+"/"+step, body, &res); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(out, res)
	}
	_, err := fmt.Fprintln(out, res.summary())
	return err
}

// accessGrant is a row of GET /api/access/grants.
type accessGrant struct {
	RequestID   string    `json:"request_id"`
	User        string    `json:"user"`
	Entitlement string    `json:"entitlement"`
	GroupName   string    `json:"group_name"`
	Until       time.Time `json:"until"`
	Emergency   bool      `json:"emergency"`
}

// cmdGrants lists the active grants.
func cmdGrants(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("grants")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	return list(ctx, out, *asJSON, "/api/access/grants", []string{"REQUEST", "", "USER", "ENTITLEMENT", "GROUP", "UNTIL"}, func(g accessGrant) []string {
		mark := ""
		if g.Emergency {
			mark = "⚡"
		}
		return []string{g.RequestID, mark, g.User, g.Entitlement, g.GroupName, when(g.Until)}
	})
}

// entitlement is a row of GET /api/access/entitlements.
type entitlement struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	GroupName string `json:"group_name"`
	Request   struct {
		Approvers   []string      `json:"approvers"`
		Approvals   int           `json:"approvals"`
		MaxDuration time.Duration `json:"max_duration"`
		AutoApprove bool          `json:"auto_approve"`
	} `json:"request"`
	Emergency *struct {
		Approvers   []string `json:"approvers"`
		Approvals   int      `json:"approvals"`
		AutoApprove bool     `json:"auto_approve"`
	} `json:"emergency"`
}

// cmdEntitlement lists entitlements or sets one (admins).
func cmdEntitlement(ctx context.Context, args []string, out io.Writer) error {
	const u = "usage: porthole entitlement list [--json] | porthole entitlement set NAME --group ID --approvers role:approver,user:amy " +
		"[--approvals N] [--max 4h] [--justification] [--self-approve] [--emergency-approvers L --emergency-approvals N | --emergency-auto] [--emergency-max 1h]"
	if len(args) > 0 && args[0] == "list" {
		fs := newFlags("entitlement list")
		asJSON := fs.Bool("json", false, "print JSON")
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		return list(ctx, out, *asJSON, "/api/access/entitlements", []string{"ID", "NAME", "GROUP", "APPROVERS", "NEEDED", "MAX", "EMERGENCY"},
			func(e entitlement) []string {
				em := "-"
				if e.Emergency != nil {
					em = fmt.Sprintf("⚡ %s (%d)", strings.Join(e.Emergency.Approvers, ","), e.Emergency.Approvals)
					if e.Emergency.AutoApprove {
						em = "⚡ auto-approve, reviewed after"
					}
				}
				return []string{e.ID, e.Name, e.GroupName, strings.Join(e.Request.Approvers, ","), fmt.Sprint(e.Request.Approvals),
					e.Request.MaxDuration.String(), em}
			})
	}
	if len(args) < 2 || args[0] != "set" || args[1] == "" || args[1][0] == '-' {
		return &exitError{2, errors.New(u)}
	}
	fs := newFlags("entitlement set")
	group := fs.String("group", "", "device group id")
	approvers := fs.String("approvers", "", "comma-separated user:NAME and role:ROLE")
	approvals := fs.Int("approvals", 1, "approvals needed")
	maxDur := fs.Duration("max", 4*time.Hour, "longest grant")
	just := fs.Bool("justification", false, "require a justification")
	self := fs.Bool("self-approve", false, "let an approver approve their own request")
	eApprovers := fs.String("emergency-approvers", "", "emergency policy approvers (enables emergency access)")
	eApprovals := fs.Int("emergency-approvals", 1, "approvals the emergency policy needs")
	eAuto := fs.Bool("emergency-auto", false, "emergency requests are granted at once and reviewed afterwards")
	eMax := fs.Duration("emergency-max", time.Hour, "longest emergency grant")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args[2:]); err != nil {
		return err
	}
	split := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, ",")
	}
	req := wire.EntitlementRequest{Name: args[1], GroupID: *group, Request: wire.AccessPolicy{Approvers: split(*approvers), Approvals: *approvals,
		MaxDurationSeconds: int64(*maxDur / time.Second), JustificationRequired: *just, AllowSelfApproval: *self}}
	if *eAuto || *eApprovers != "" {
		req.Emergency = &wire.AccessPolicy{Approvers: split(*eApprovers), Approvals: *eApprovals, MaxDurationSeconds: int64(*eMax / time.Second),
			AutoApprove: *eAuto, JustificationRequired: *just}
	}
	if err := req.Validate(); err != nil {
		return &exitError{2, err}
	}
	var res entitlement
	if err := authed(ctx, "PUT", "/api/access/entitlements", req, &res); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(out, res)
	}
	_, err := fmt.Fprintf(out, "Entitlement %s on %s saved (id %s).\n", res.Name, res.GroupName, res.ID)
	return err
}
