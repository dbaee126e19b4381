package httpapi

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"porthole/broker/access"
	"porthole/broker/auth"
	"porthole/broker/policy"
	"porthole/broker/store"
	"porthole/internal/wire"
)

// accessRoutes registers entitlements and access requests. Any logged-in
// user may request and see their own requests; the entitlement's policy,
// not the role, decides who approves; admins (ManageSettings) define
// entitlements and review emergency grants.
func (a *API) accessRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /api/access/entitlements", a.authed("", a.listEntitlements))
	m.HandleFunc("PUT /api/access/entitlements", a.authed(auth.ManageSettings, a.putEntitlement))
	m.HandleFunc("DELETE /api/access/entitlements/{id}", a.authed(auth.ManageSettings, a.deleteEntitlement))
	m.HandleFunc("GET /api/access/requests", a.authed("", a.listAccessRequests))
	m.HandleFunc("POST /api/access/requests", a.authed("", a.createAccessRequest))
	m.HandleFunc("GET /api/access/requests/{id}", a.authed("", a.getAccessRequest))
	m.HandleFunc("POST /api/access/requests/{id}/approve", a.authed("", a.accessStep(access.StepApprove)))
	m.HandleFunc("POST /api/access/requests/{id}/deny", a.authed("", a.accessStep(access.StepDeny)))
	m.HandleFunc("POST /api/access/requests/{id}/escalate", a.authed("", a.accessStep(access.StepEscalate)))
	m.HandleFunc("POST /api/access/requests/{id}/cancel", a.authed("", a.accessStep(access.StepCancel)))
	m.HandleFunc("POST /api/access/requests/{id}/revoke", a.authed("", a.accessStep(access.StepRevoke)))
	m.HandleFunc("POST /api/access/requests/{id}/review", a.authed(auth.ManageSettings, a.accessStep(access.StepReview)))
	m.HandleFunc("GET /api/access/grants", a.authed(auth.ViewRequests, a.listGrants))
	m.HandleFunc("GET /api/access/reviews", a.authed(auth.ManageSettings, a.listReviews))
}

// accessActor is the caller as broker/access sees them.
func accessActor(r *http.Request) access.Actor {
	p := principal(r)
	return access.Actor{Principal: policy.Principal{User: p.Username, Role: string(p.Role)}, Admin: p.Can(auth.ManageSettings),
		SourceIP: clientIP(r)}
}

func (a *API) listEntitlements(w http.ResponseWriter, r *http.Request) {
	es, err := a.cfg.Access.Entitlements(r.Context())
	if err != nil {
		a.failAccess(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, es)
}

// accessPolicy is the policy an admin sent, with "user:NAME" approvers
// case-folded like usernames (ADR 0009).
func accessPolicy(p wire.AccessPolicy) policy.Policy {
	var approvers []string
	if p.Approvers != nil {
		approvers = make([]string, len(p.Approvers))
	}
	for i, ap := range p.Approvers {
		if name, ok := strings.CutPrefix(ap, "user:"); ok {
			ap = "user:" + wire.FoldUsername(name)
		}
		approvers[i] = ap
	}
	return policy.Policy{Approvers: approvers, Approvals: p.Approvals, MaxDuration: time.Duration(p.MaxDurationSeconds) * time.Second,
		JustificationRequired: p.JustificationRequired, AllowSelfApproval: p.AllowSelfApproval, AutoApprove: p.AutoApprove}
}

func (a *API) putEntitlement(w http.ResponseWriter, r *http.Request) {
	var req wire.EntitlementRequest
	if err := wire.DecodeJSON(r.Body, maxBody, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	ent := policy.Entitlement{Name: req.Name, Group: req.GroupID, Request: accessPolicy(req.Request)}
	if req.Emergency != nil {
		e := accessPolicy(*req.Emergency)
		ent.Emergency = &e
	}
	v, err := a.cfg.Access.PutEntitlement(r.Context(), accessActor(r), ent)
	if err != nil {
		a.failAccess(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (a *API) deleteEntitlement(w http.ResponseWriter, r *http.Request) {
	if err := a.cfg.Access.DeleteEntitlement(r.Context(), accessActor(r), r.PathValue("id")); err != nil {
		a.failAccess(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id")})
}

// listAccessRequests answers ?state=pending|approved|… and ?needs_review=1.
func (a *API) listAccessRequests(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	vs, err := a.cfg.Access.List(r.Context(), accessActor(r), access.Filter{State: policy.State(q.Get("state")),
		NeedsReview: q.Get("needs_review") == "1", ActiveOnly: q.Get("active") == "1"})
	if err != nil {
		a.failAccess(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, vs)
}

func (a *API) createAccessRequest(w http.ResponseWriter, r *http.Request) {
	var req wire.AccessRequestCreate
	if err := wire.DecodeJSON(r.Body, maxBody, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	v, err := a.cfg.Access.Create(r.Context(), accessActor(r), access.NewRequest{EntitlementID: req.EntitlementID, Name: req.Entitlement,
		Group: req.Group, Duration: time.Duration(req.DurationSeconds) * time.Second, Justification: req.Justification, Emergency: req.Emergency})
	if err != nil {
		a.failAccess(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, v)
}

func (a *API) getAccessRequest(w http.ResponseWriter, r *http.Request) {
	v, err := a.cfg.Access.Get(r.Context(), accessActor(r), r.PathValue("id"))
	if err != nil {
		a.failAccess(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// accessStep handles approve, deny, escalate, cancel, revoke and review
// (each with an optional comment).
func (a *API) accessStep(step access.Step) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req wire.DecisionRequest
		if r.ContentLength != 0 {
			if err := wire.DecodeJSON(r.Body, maxBody, &req); err != nil {
				a.fail(w, r, err)
				return
			}
		}
		v, err := a.cfg.Access.Do(r.Context(), accessActor(r), r.PathValue("id"), step, req.Comment)
		if err != nil {
			a.failAccess(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	}
}

func (a *API) listGrants(w http.ResponseWriter, r *http.Request) {
	gs, err := a.cfg.Access.Grants(r.Context())
	if err != nil {
		a.failAccess(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, gs)
}

func (a *API) listReviews(w http.ResponseWriter, r *http.Request) {
	vs, err := a.cfg.Access.List(r.Context(), accessActor(r), access.Filter{NeedsReview: true})
	if err != nil {
		a.failAccess(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, vs)
}

// failAccess maps the policy's and access's errors, then the common ones.
func (a *API) failAccess(w http.ResponseWriter, r *http.Request, err error) {
	status := 0
	switch {
	case errors.Is(err, policy.ErrInvalid), errors.Is(err, policy.ErrTooLong), errors.Is(err, policy.ErrJustification),
		errors.Is(err, policy.ErrNoEmergency), errors.Is(err, access.ErrUnknownName), errors.Is(err, access.ErrAmbiguous):
		status = http.StatusBadRequest
	case errors.Is(err, policy.ErrNotApprover), errors.Is(err, policy.ErrSelfApproval), errors.Is(err, policy.ErrNotRequester),
		errors.Is(err, access.ErrNotAllowed):
		status = http.StatusForbidden
	case errors.Is(err, policy.ErrState), errors.Is(err, policy.ErrAlreadyApproved), errors.Is(err, policy.ErrNoReview),
		errors.Is(err, store.ErrChanged):
		status = http.StatusConflict
	case errors.Is(err, access.ErrNotAccess):
		status = http.StatusNotFound
	}
	if status == 0 {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, status, map[string]string{"error": err.Error()})
}
