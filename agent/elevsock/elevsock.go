// Package elevsock is the local socket through which `porthole-agent
// elevate` and `porthole-agent request-admin`, run by the end user, ask the
// agent service (root) to redeem a temporary admin code or to elevate them
// on request.
//
// The service learns who is asking from the OS (localsock.PeerUser:
// SO_PEERCRED on a unix socket), never from the client: the code is verified for, and rights are
// granted to, the account of the process that connected. The socket is
// world-connectable (0666) on purpose; the code and the rate limiter are the
// protection, and a caller can only ever elevate itself.
//
// Protocol: the client sends one JSON line (a Request), the service answers
// with one JSON line (a Response) and closes the connection.
package elevsock

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"porthole/agent/elevation"
	"porthole/agent/localsock"
	"porthole/internal/elevcode"
)

// DefaultPath is where the service listens unless configured otherwise.
const DefaultPath = "/run/porthole-agent/elevate.sock"

// Limits of the protocol.
const (
	maxRequest = 1024
	ioTimeout  = 30 * time.Second
)

// Errors.
var (
	// ErrMalformed: a request that is not one valid JSON line.
	ErrMalformed = errors.New("elevsock: malformed request")
)

// Operations.
const (
	OpElevate = "elevate" // redeem Code for the caller
	OpStatus  = "status"  // the caller's running elevation, if any
	// OpRequest asks for elevation with a Reason: granted at once when the
	// caller may self-approve, else sent to the helpdesk.
	OpRequest = "request"
)

// maxReason bounds a request's reason.
const maxReason = 500

// Request is what a client sends.
type Request struct {
	Op     string `json:"op"`
	Code   string `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Response is the service's answer. Error is a sentence for the end user.
type Response struct {
	OK    bool      `json:"ok"`
	Error string    `json:"error,omitempty"`
	User  string    `json:"user,omitempty"`
	Until time.Time `json:"until,omitzero"`
	// Now is the service's clock, so the client shows the time left
	// without trusting its own.
	Now time.Time `json:"now,omitzero"`
	// SelfApproved: a request granted without a code. RequestID: a
	// request sent to the helpdesk.
	SelfApproved bool   `json:"self_approved,omitempty"`
	RequestID    string `json:"request_id,omitempty"`
}

// decodeRequest is the one decoder of client input.
func decodeRequest(line []byte) (Request, error) {
	var r Request
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Request{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return Request{}, fmt.Errorf("%w: trailing data", ErrMalformed)
	}
	switch {
	case r.Op == OpElevate && r.Code != "" && len(r.Code) <= 4*elevcode.Length && r.Reason == "":
	case r.Op == OpStatus && r.Code == "" && r.Reason == "":
	case r.Op == OpRequest && r.Code == "" && strings.TrimSpace(r.Reason) != "" && len(r.Reason) <= maxReason && utf8.ValidString(r.Reason):
		r.Reason = strings.Map(func(c rune) rune {
			if c < 0x20 || c == 0x7f {
				return ' '
			}
			return c
		}, strings.TrimSpace(r.Reason))
	default:
		return Request{}, fmt.Errorf("%w: want op elevate with a code, request with a reason (at most %d bytes), or status", ErrMalformed, maxReason)
	}
	return r, nil
}

// Elevator is what the service needs from the agent's elevation side.
type Elevator interface {
	Elevate(ctx context.Context, user, code string) (elevation.Session, error)
	Sessions() ([]elevation.Session, error)
	// Request grants at once when user may self-approve (self true), or
	// forwards the request to the broker and returns its id.
	Request(ctx context.Context, user, reason string) (s elevation.Session, self bool, requestID string, err error)
}

// Server answers requests on a unix socket.
type Server struct {
	path string
	elev Elevator
	now  func() time.Time
	log  *slog.Logger

	mu sync.Mutex
	ln net.Listener // guarded by mu; nil until Run listens
}

// NewServer returns a server for path ("" = DefaultPath). now is the
// service's clock (nil: time.Now).
func NewServer(path string, elev Elevator, now func() time.Time, log *slog.Logger) *Server {
	if path == "" {
		path = DefaultPath
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{path: path, elev: elev, now: now, log: log.With("component", "elevsock")}
}

// Run listens until ctx ends, then removes the socket. A stale socket file
// from a crash is replaced.
func (s *Server) Run(ctx context.Context) error {
	if err := os.MkdirAll(filepath.Dir(s.path), 0o755); err != nil {
		return fmt.Errorf("elevsock: %w", err)
	}
	ln, err := localsock.Listen(s.path)
	if err != nil {
		return fmt.Errorf("elevsock: %w", err)
	}
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				_ = os.Remove(s.path)
				return nil
			}
			return fmt.Errorf("elevsock: accept: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serve(ctx, c)
		}()
	}
}

// serve answers one connection and closes it.
func (s *Server) serve(ctx context.Context, c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(ioTimeout))
	resp := s.answer(ctx, c)
	resp.Now = s.now()
	b, _ := json.Marshal(resp)
	_, _ = c.Write(append(b, '\n'))
}

func (s *Server) answer(ctx context.Context, c net.Conn) Response {
	name, err := localsock.PeerUser(c)
	if errors.Is(err, localsock.ErrUnknownUser) {
		return Response{Error: "Your account is not known on this computer."}
	}
	if err != nil {
		s.log.Warn("elevation request from an unidentified peer", "err", err)
		return Response{Error: "The agent could not tell which account is asking."}
	}
	line, err := bufio.NewReader(&limitedReader{r: c, n: maxRequest}).ReadBytes('\n')
	if err != nil && len(line) == 0 {
		return Response{Error: "No request received."}
	}
	req, err := decodeRequest(line)
	if err != nil {
		return Response{Error: "The request was not understood."}
	}
	switch req.Op {
	case OpStatus:
		ss, err := s.elev.Sessions()
		if err != nil {
			s.log.Error("elevation status", "err", err)
			return Response{Error: "The agent could not read its elevation state."}
		}
		for _, e := range ss {
			if e.User == name {
				return Response{OK: true, User: e.User, Until: e.Until}
			}
		}
		return Response{User: name, Error: "You are not elevated."}
	case OpRequest:
		sess, self, id, err := s.elev.Request(ctx, name, req.Reason)
		switch {
		case err != nil:
			s.log.Error("elevation request", "user", name, "err", err)
			return Response{User: name, Error: Message(err)}
		case self:
			return Response{OK: true, SelfApproved: true, User: sess.User, Until: sess.Until}
		}
		return Response{OK: true, User: name, RequestID: id}
	default:
		sess, err := s.elev.Elevate(ctx, name, req.Code)
		if err != nil {
			return Response{User: name, Error: Message(err)}
		}
		return Response{OK: true, User: sess.User, Until: sess.Until}
	}
}

// Message turns an elevation error into a sentence for the end user.
func Message(err error) string {
	switch {
	case errors.Is(err, elevcode.ErrMalformed):
		return "That is not a code: a code has 12 letters and digits, like ABCD-EFGH-JKMN."
	case errors.Is(err, elevcode.ErrBadCode):
		return "Wrong code: it is not valid for this computer and your account."
	case errors.Is(err, elevcode.ErrExpired):
		return "This code has expired. Ask for a new one."
	case errors.Is(err, elevcode.ErrUsed):
		return "This code was already used. A code works once."
	case errors.Is(err, elevation.ErrRateLimited):
		return "Too many wrong codes: " + err.Error() + "."
	case errors.Is(err, elevation.ErrBadUser):
		return "Your account cannot be made an administrator."
	}
	return "Elevation failed; the agent's log has the details."
}

// limitedReader stops after n bytes, so a client cannot make the service
// buffer an endless line.
type limitedReader struct {
	r interface{ Read([]byte) (int, error) }
	n int
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, fmt.Errorf("%w: request too long", ErrMalformed)
	}
	if len(p) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= n
	return n, err
}

// Ask sends req to the service at path ("" = DefaultPath) and returns its
// answer; used by `porthole-agent elevate`.
func Ask(ctx context.Context, path string, req Request) (Response, error) {
	if path == "" {
		path = DefaultPath
	}
	c, err := localsock.Dial(ctx, path)
	if err != nil {
		return Response{}, fmt.Errorf("cannot reach the porthole agent at %s (is it running?): %w", path, err)
	}
	defer c.Close()
	deadline := time.Now().Add(ioTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.SetDeadline(deadline)
	b, err := json.Marshal(req)
	if err != nil {
		return Response{}, err
	}
	if _, err := c.Write(append(b, '\n')); err != nil {
		return Response{}, fmt.Errorf("send to the agent: %w", err)
	}
	var resp Response
	if err := json.NewDecoder(bufio.NewReader(c)).Decode(&resp); err != nil {
		return Response{}, fmt.Errorf("read the agent's answer: %w", err)
	}
	return resp, nil
}
