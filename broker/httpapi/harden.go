package httpapi

import (
	"mime"
	"net/http"
	"net/netip"
	"strings"

	"porthole/broker/auth"
	"porthole/broker/live"
	"porthole/broker/requests"
)

// Checks every request passes before routing (ServeHTTP), and the small
// rules that keep unauthenticated callers and the live stream in bounds.

// hstsMaxAge is one year: browsers that reached the portal over TLS never
// try it over plain HTTP again within that time.
const hstsMaxAge = "max-age=31536000"

// errNotJSON is the 415 answer to a body the JSON API cannot read.
const errNotJSON = "request body must be JSON (Content-Type: application/json)"

// jsonBodyOnly answers 415 to a state-changing API request whose body is
// not declared JSON (a form post, text/plain: what a cross-site form can
// send) and reports whether the request may go on. Bodiless requests pass.
func jsonBodyOnly(w http.ResponseWriter, r *http.Request) bool {
	if !strings.HasPrefix(r.URL.Path, "/api/") || r.ContentLength == 0 {
		return true
	}
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return true
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err == nil && mt == "application/json" {
		return true
	}
	writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": errNotJSON})
	return false
}

// forwardedClient sets r.RemoteAddr to the client a trusted reverse proxy
// names in X-Forwarded-For: the right-most address that is not itself a
// trusted proxy (the ones to its left were written by the client and prove
// nothing). From a peer that is not a trusted proxy the header is ignored,
// so nobody can pick the address their audit records and limits carry.
func (a *API) forwardedClient(r *http.Request) {
	if len(a.cfg.TrustedProxies) == 0 {
		return
	}
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !a.trusted(peer.Addr()) {
		return
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	client := netip.Addr{}
	for i := len(hops) - 1; i >= 0; i-- {
		ip, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a malformed hop: trust nothing left of it
		}
		client = ip.Unmap()
		if !a.trusted(client) {
			break
		}
	}
	if client.IsValid() {
		r.RemoteAddr = netip.AddrPortFrom(client, 0).String()
	}
}

func (a *API) trusted(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range a.cfg.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// recordFailure audits an unauthenticated failure (anonymous actor),
// coalesced per action and source address when the API has a Coalescer.
// A failure to audit is logged: the request is refused either way.
func (a *API) recordFailure(r *http.Request, action string, details map[string]any) {
	ip := clientIP(r)
	e := auditEvent("anonymous", action, "", ip, details)
	var err error
	if a.cfg.Failures != nil {
		err = a.cfg.Failures.Add(r.Context(), action+"|"+ip, e)
	} else {
		_, err = a.cfg.Audit.Append(r.Context(), e)
	}
	if err != nil {
		a.log.Error("audit failure", "action", action, "err", err)
	}
}

// mayReceive reports whether the caller of an events websocket may see ev:
// requests only reach those who may see them (the queue's roles; an access
// request its requester, approvers and admins), so an auditor's page hears
// nothing of who asks for what. Everything else goes to every page.
func (a *API) mayReceive(r *http.Request, ev live.Event) bool {
	if ev.Type != "request" {
		return true
	}
	d, _ := ev.Data.(requests.Event)
	if d.Kind != requests.KindAccess {
		return principal(r).Can(auth.ViewRequests)
	}
	if a.cfg.Access == nil {
		return false
	}
	_, err := a.cfg.Access.Get(r.Context(), accessActor(r), ev.ID)
	return err == nil
}
