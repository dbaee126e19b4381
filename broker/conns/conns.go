// Package conns keeps track of the broker's open portal and API websockets
// (live events, session signalling) by who opened them, so that ending a
// portal session, revoking a token or locking a user out closes them at
// once instead of leaving them streaming until the page goes away.
//
// A handler opens a Conn for each websocket it serves and stops serving
// when the Conn's context ends; the context's cause says why.
package conns

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sort"
	"sync"
)

// Kinds of websocket.
const (
	Events = "events" // GET /api/events: live updates for portal pages
	Signal = "signal" // GET /api/sessions/{id}/signal: a viewer's session signalling
)

// ErrClosed is the cause of a Conn closed by Close; Close wraps it with the reason.
var ErrClosed = errors.New("connection closed by the broker")

// Owner is who opened a websocket and how they authenticated.
type Owner struct {
	UserID string
	// SessionHash is the portal session's (empty for a token).
	SessionHash string
	// TokenID is the API token's (empty for a portal session).
	TokenID string
}

// Info describes an open websocket.
type Info struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	Owner
}

// Registry is the set of open websockets. Its zero value is not usable; use New.
type Registry struct {
	mu    sync.Mutex
	conns map[string]*conn // by id; guarded by mu
}

type conn struct {
	info   Info
	cancel context.CancelCauseFunc
}

// New returns an empty registry.
func New() *Registry { return &Registry{conns: map[string]*conn{}} }

// Open registers a websocket of kind for owner. The returned context ends
// when parent does or when Close picks the connection; the caller stops
// serving then and must call done (which forgets the connection) when it has.
func (r *Registry) Open(parent context.Context, kind string, owner Owner) (ctx context.Context, id string, done func()) {
	ctx, cancel := context.WithCancelCause(parent)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	id = kind + ":" + hex.EncodeToString(b)
	c := &conn{info: Info{ID: id, Kind: kind, Owner: owner}, cancel: cancel}
	r.mu.Lock()
	r.conns[id] = c
	r.mu.Unlock()
	return ctx, id, func() {
		r.mu.Lock()
		delete(r.conns, id)
		r.mu.Unlock()
		cancel(nil)
	}
}

// List returns the open connections that match, sorted by id.
func (r *Registry) List(match func(Info) bool) []Info {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Info
	for _, c := range r.conns {
		if match(c.info) {
			out = append(out, c.info)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Close ends every open connection that matches, with reason as the cause
// (wrapping ErrClosed), and returns their ids, sorted. The handlers
// serving them see their context end at once.
func (r *Registry) Close(match func(Info) bool, reason string) []string {
	r.mu.Lock()
	var picked []*conn
	for id, c := range r.conns {
		if match(c.info) {
			picked = append(picked, c)
			delete(r.conns, id)
		}
	}
	r.mu.Unlock()
	ids := make([]string, 0, len(picked))
	cause := &closedError{reason}
	for _, c := range picked {
		c.cancel(cause)
		ids = append(ids, c.info.ID)
	}
	sort.Strings(ids)
	return ids
}

// Reason returns why the broker closed a Conn's context ("" if it did not).
func Reason(ctx context.Context) string {
	var ce *closedError
	if errors.As(context.Cause(ctx), &ce) {
		return ce.reason
	}
	return ""
}

type closedError struct{ reason string }

func (e *closedError) Error() string { return ErrClosed.Error() + ": " + e.reason }
func (e *closedError) Unwrap() error { return ErrClosed }

// ByUser matches a user's connections.
func ByUser(userID string) func(Info) bool {
	return func(i Info) bool { return i.UserID == userID }
}

// BySession matches the connections a portal session opened.
func BySession(sessionHash string) func(Info) bool {
	return func(i Info) bool { return sessionHash != "" && i.SessionHash == sessionHash }
}

// ByToken matches the connections an API token opened.
func ByToken(tokenID string) func(Info) bool {
	return func(i Info) bool { return tokenID != "" && i.TokenID == tokenID }
}

// And matches what every one of ms matches.
func And(ms ...func(Info) bool) func(Info) bool {
	return func(i Info) bool {
		for _, m := range ms {
			if !m(i) {
				return false
			}
		}
		return true
	}
}

// OfKind matches connections of kind.
func OfKind(kind string) func(Info) bool {
	return func(i Info) bool { return i.Kind == kind }
}
