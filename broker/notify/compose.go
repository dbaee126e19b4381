package notify

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"porthole/broker/store"
)

// Kinds of request, as their audit records name them.
const (
	kindSupport   = "support"
	kindElevation = "elevation"
	kindAccess    = "access"
)

// Request is what a new-request email tells, read from the audit record
// that created the request.
type Request struct {
	ID   string
	Kind string // support, elevation or access
	// Support and elevation: the endpoint.
	DeviceID, Host string
	// Access: the entitlement, its group and how long it is asked for.
	Entitlement, GroupID, Group, Duration string
	Emergency                             bool
	// Escalated: an open access request switched to the emergency policy
	// (CreatedAt is then when it was escalated).
	Escalated bool
	// Who asks, how to reach them, and why.
	User, ContactName, ContactEmail, ContactPhone, Reason string
	CreatedAt                                             time.Time
}

// requestOf reads a request to announce from its audit record:
// request.created (support, elevation), access.requested, or
// access.escalated (the emergency approvers must hear of it at once).
func requestOf(rec store.AuditRecord) (Request, bool) {
	if rec.Action != "request.created" && rec.Action != "access.requested" && rec.Action != "access.escalated" {
		return Request{}, false
	}
	var d map[string]any
	if json.Unmarshal([]byte(rec.Details), &d) != nil {
		return Request{}, false
	}
	s := func(k string) string { v, _ := d[k].(string); return v }
	r := Request{ID: rec.Target, Kind: s("kind"), DeviceID: s("device_id"), Host: s("hostname"), User: s("user"),
		ContactName: s("name"), ContactEmail: s("email"), ContactPhone: s("phone"), Reason: s("reason"), CreatedAt: rec.Time}
	if rec.Action == "access.requested" {
		r.Kind, r.Entitlement, r.GroupID, r.Group, r.Duration = kindAccess, s("entitlement"), s("group_id"), s("group_id"), s("duration")
		r.Reason, r.User = s("justification"), strings.TrimPrefix(rec.Actor, "user:")
		r.Emergency, _ = d["emergency"].(bool)
	}
	if rec.Action == "access.escalated" {
		r.Kind, r.Entitlement, r.GroupID, r.Group, r.Duration = kindAccess, s("entitlement"), s("group_id"), s("group_id"), s("duration")
		r.Reason, r.User, r.Emergency, r.Escalated = s("justification"), s("requester"), true, true
	}
	return r, r.ID != ""
}

// Compose returns the subject and plain-text body of r's email: who asks
// for what and why, until when it waits, and a link to it in the portal.
func Compose(r Request, portalURL string, deadline, now time.Time) (subject, body string) {
	var b strings.Builder
	line := func(label, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%-12s %s\n", label+":", oneLine(v))
		}
	}
	link := portalURL + "/#/requests"
	switch r.Kind {
	case kindAccess:
		link = portalURL + "/#/access/" + r.ID
		subject = fmt.Sprintf("[Porthole] Access request: %s wants %s on %s", r.User, r.Entitlement, r.Group)
		if r.Emergency {
			subject = fmt.Sprintf("[Porthole] ⚡ Emergency access request: %s wants %s on %s", r.User, r.Entitlement, r.Group)
		}
		if r.Escalated {
			subject = fmt.Sprintf("[Porthole] ⚡ Escalated to emergency: %s wants %s on %s", r.User, r.Entitlement, r.Group)
			b.WriteString("A portal user escalated an open access request to the emergency policy.\n\n")
		} else {
			b.WriteString("A portal user asks for access.\n\n")
		}
		if r.Emergency {
			b.WriteString("⚡ EMERGENCY: this request bypasses the normal approval policy.\n\n")
		}
		line("Kind", "access ("+r.Entitlement+")")
		line("Group", r.Group)
		line("User", r.User)
		line("Duration", r.Duration)
	case kindElevation:
		subject = fmt.Sprintf("[Porthole] Elevation request from %s on %s", r.User, r.Host)
		b.WriteString("An end user asks for temporary administrator rights.\n\n")
		line("Kind", "elevation")
		line("Device", r.Host+" ("+r.DeviceID+")")
		line("User", r.User)
	default:
		subject = fmt.Sprintf("[Porthole] Support request from %s", r.Host)
		b.WriteString("An end user asks for remote support.\n\n")
		line("Kind", "remote support")
		line("Device", r.Host+" ("+r.DeviceID+")")
		line("Contact", r.ContactName)
		line("Email", r.ContactEmail)
		line("Phone", r.ContactPhone)
	}
	line("Reason", r.Reason)
	when := "Requested"
	if r.Escalated {
		when = "Escalated"
	}
	line(when, fmt.Sprintf("%s (%s ago)", r.CreatedAt.UTC().Format(time.RFC1123), now.Sub(r.CreatedAt).Round(time.Second)))
	if deadline.After(r.CreatedAt) {
		line("Expires", fmt.Sprintf("%s (in %s)", deadline.UTC().Format(time.RFC1123), deadline.Sub(now).Round(time.Second)))
	}
	fmt.Fprintf(&b, "\nOpen it in the portal:\n%s\n", link)
	return oneLine(subject), b.String()
}
