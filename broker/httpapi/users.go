package httpapi

import (
	"context"
	"errors"
	"net/http"

	"porthole/broker/auth"
	"porthole/broker/lifecycle"
	"porthole/broker/store"
	"porthole/internal/wire"
)

// userService is what the Users routes call (lifecycle.Service); table
// tests drive the handlers with a fake.
type userService interface {
	List(ctx context.Context, withDeleted bool) ([]lifecycle.User, error)
	Create(ctx context.Context, who lifecycle.Actor, username, role string, groups []string) (lifecycle.Result, error)
	Disable(ctx context.Context, who lifecycle.Actor, id string) (lifecycle.Result, error)
	Enable(ctx context.Context, who lifecycle.Actor, id string) (lifecycle.Result, error)
	SetRole(ctx context.Context, who lifecycle.Actor, id, role string, groups []string) (lifecycle.Result, error)
	ResetPassword(ctx context.Context, who lifecycle.Actor, id string) (lifecycle.Result, error)
	ResetMFA(ctx context.Context, who lifecycle.Actor, id string) (lifecycle.Result, error)
	Delete(ctx context.Context, who lifecycle.Actor, id string) (lifecycle.Result, error)
}

var _ userService = (*lifecycle.Service)(nil)

// usersAPI is the Users handler group: every route needs users.manage.
type usersAPI struct {
	svc  userService
	fail func(w http.ResponseWriter, r *http.Request, err error)
}

func (a *API) userRoutes(m *http.ServeMux) {
	u := usersAPI{svc: a.cfg.Lifecycle, fail: a.fail}
	m.HandleFunc("GET /api/users", a.authed(auth.ManageUsers, u.list))
	m.HandleFunc("POST /api/users", a.authed(auth.ManageUsers, u.create))
	m.HandleFunc("POST /api/users/{id}/disable", a.authed(auth.ManageUsers, u.act(userDisable)))
	m.HandleFunc("POST /api/users/{id}/enable", a.authed(auth.ManageUsers, u.act(userEnable)))
	m.HandleFunc("POST /api/users/{id}/password/reset", a.authed(auth.ManageUsers, u.act(userResetPassword)))
	m.HandleFunc("POST /api/users/{id}/mfa/reset", a.authed(auth.ManageUsers, u.act(userResetMFA)))
	m.HandleFunc("DELETE /api/users/{id}", a.authed(auth.ManageUsers, u.act(userDelete)))
	m.HandleFunc("PUT /api/users/{id}/role", a.authed(auth.ManageUsers, u.setRole))
}

// actor is the caller as the lifecycle records it.
func actor(r *http.Request) lifecycle.Actor {
	return lifecycle.Actor{Username: principal(r).Username, SourceIP: clientIP(r)}
}

// userResult answers a lifecycle change: the user after it, what it ended
// and, once, a generated password. SessionsEnded repeats the cascade's
// portal sessions for older clients of the MFA reset.
type userResult struct {
	lifecycle.Result
	Status        string `json:"status"`
	SessionsEnded int    `json:"sessions_ended"`
}

func answer(w http.ResponseWriter, status int, what string, res lifecycle.Result) {
	writeJSON(w, status, userResult{Result: res, Status: what, SessionsEnded: res.Cascade.PortalSessions})
}

func (u usersAPI) list(w http.ResponseWriter, r *http.Request) {
	us, err := u.svc.List(r.Context(), r.URL.Query().Get("deleted") == "true")
	if err != nil {
		u.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, us)
}

// createView keeps the fields POST /api/users always answered.
type createView struct {
	ID       string   `json:"id"`
	Username string   `json:"username"`
	Role     string   `json:"role"`
	Groups   []string `json:"groups"`
	Password string   `json:"password"`
}

func (u usersAPI) create(w http.ResponseWriter, r *http.Request) {
	var req wire.UserRequest
	if err := wire.DecodeJSON(r.Body, maxBody, &req); err != nil {
		u.fail(w, r, err)
		return
	}
	res, err := u.svc.Create(r.Context(), actor(r), req.Username, req.Role, bindings(req.Groups))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, createView{ID: res.User.ID, Username: res.User.Username, Role: res.User.Role, Groups: res.User.Groups,
		Password: res.Password})
}

// bindings: no groups means the role holds on every device.
func bindings(groups []string) []string {
	if len(groups) == 0 {
		return nil
	}
	return groups
}

// userAction is one of the changes that take only the user's id.
type userAction struct {
	status string
	do     func(userService, context.Context, lifecycle.Actor, string) (lifecycle.Result, error)
}

var (
	userDisable       = userAction{"disabled", userService.Disable}
	userEnable        = userAction{"enabled", userService.Enable}
	userResetPassword = userAction{"password reset", userService.ResetPassword}
	userResetMFA      = userAction{"reset", userService.ResetMFA}
	userDelete        = userAction{"deleted", userService.Delete}
)

func (u usersAPI) act(x userAction) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		res, err := x.do(u.svc, r.Context(), actor(r), r.PathValue("id"))
		if err != nil {
			u.fail(w, r, err)
			return
		}
		answer(w, http.StatusOK, x.status, res)
	}
}

func (u usersAPI) setRole(w http.ResponseWriter, r *http.Request) {
	var req wire.RoleRequest
	if err := wire.DecodeJSON(r.Body, maxBody, &req); err != nil {
		u.fail(w, r, err)
		return
	}
	res, err := u.svc.SetRole(r.Context(), actor(r), r.PathValue("id"), req.Role, bindings(req.Groups))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	answer(w, http.StatusOK, "role changed", res)
}

// usersStatus maps the lifecycle's errors (and the API token ones) to a
// status and message; ok is false for others.
func usersStatus(err error) (int, string, bool) {
	switch {
	case errors.Is(err, store.ErrLastAdmin), errors.Is(err, lifecycle.ErrDeletedName):
		return http.StatusConflict, err.Error(), true
	case errors.Is(err, lifecycle.ErrNotBindable), lifecycle.IsBadRole(err), errors.Is(err, store.ErrUnknownGroup),
		errors.Is(err, auth.ErrBadScope), errors.Is(err, errTokenTooLong):
		return http.StatusBadRequest, err.Error(), true
	}
	return 0, "", false
}

// recheckSessions ends the live remote sessions whose requester's role no
// longer covers them after a change of settings (access.standing = none)
// or of a device's group (a technician bound to the group it left). Each
// end is audited by the session with its reason.
func (a *API) recheckSessions(r *http.Request) {
	if a.cfg.Lifecycle == nil {
		return
	}
	ended, err := a.cfg.Lifecycle.Recheck(context.WithoutCancel(r.Context()), "the requester's access changed (settings or device group)")
	if err != nil {
		a.log.Error("recheck sessions", "err", err)
	}
	if len(ended) > 0 {
		a.log.Info("sessions ended by an access change", "sessions", ended)
	}
}
