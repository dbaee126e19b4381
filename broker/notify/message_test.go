package notify

import (
	"bytes"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"porthole/broker/store"
)

func TestMessageBytes(t *testing.T) {
	date := time.Date(2026, 11, 23, 16, 0, 0, 0, time.UTC)
	tests := []struct {
		name, subject, wantSubject, body, wantBody string
	}{
		{"ascii", "[Porthole] Support request from pc-7", "[Porthole] Support request from pc-7",
			"Reason: printer\nLink: http://x/#/requests\n", "Reason: printer\r\nLink: http://x/#/requests\r\n"},
		{"emergency", "[Porthole] ⚡ Emergency access request", "[Porthole] ⚡ Emergency access request",
			"Grüße\n", "Grüße\r\n"},
		{"header injection", "host\r\nBcc: evil@example.com", "host  Bcc: evil@example.com", "x", "x"},
		{"dot lines stay for the DATA writer", "s", "s", ".\n..\n", ".\r\n..\r\n"},
		{"long line", "s", "s", strings.Repeat("a", 200), strings.Repeat("a", 200)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := Message{From: "porthole@example.com", To: []string{"ops@example.com", "help@example.com"}, Subject: tc.subject,
				Body: tc.body, Date: date, ID: "abc@example.com"}
			raw := m.Bytes()
			if bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\n")) {
				t.Fatalf("bare LF in %q", raw)
			}
			for _, l := range strings.Split(string(raw), "\r\n") {
				if len(l) > 998 {
					t.Fatalf("line of %d bytes", len(l))
				}
			}
			msg, err := mail.ReadMessage(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			if msg.Header.Get("Bcc") != "" {
				t.Fatal("subject injected a header")
			}
			subj, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
			if err != nil || subj != tc.wantSubject {
				t.Errorf("Subject = %q (%v), want %q", subj, err, tc.wantSubject)
			}
			for k, want := range map[string]string{"From": "<porthole@example.com>", "To": "<ops@example.com>, <help@example.com>",
				"Message-Id": "<abc@example.com>", "Date": "Mon, 23 Nov 2026 16:00:00 +0000", "Mime-Version": "1.0",
				"Content-Type": "text/plain; charset=utf-8", "Content-Transfer-Encoding": "quoted-printable"} {
				if got := msg.Header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
			if err != nil || string(body) != tc.wantBody {
				t.Errorf("body = %q (%v), want %q", body, err, tc.wantBody)
			}
		})
	}
}

func TestNewMessageID(t *testing.T) {
	a, b := NewMessageID("porthole@example.com"), NewMessageID("porthole@example.com")
	if a == b || !strings.HasSuffix(a, "@example.com") {
		t.Fatalf("ids %q %q", a, b)
	}
	if !strings.HasSuffix(NewMessageID("nobody"), "@porthole.invalid") {
		t.Fatal("no domain: want porthole.invalid")
	}
}

func TestCompose(t *testing.T) {
	created := time.Date(2026, 11, 23, 16, 0, 0, 0, time.UTC)
	now, deadline := created.Add(2*time.Second), created.Add(30*time.Minute)
	tests := []struct {
		name        string
		r           Request
		wantSubject string
		wantBody    []string
	}{
		{"support", Request{ID: "r1", Kind: kindSupport, DeviceID: "d1", Host: "pc-7", ContactName: "Ann Lee",
			ContactEmail: "ann@example.com", ContactPhone: "+1 555", Reason: "printer is on fire", CreatedAt: created},
			"[Porthole] Support request from pc-7",
			[]string{"remote support", "pc-7 (d1)", "Ann Lee", "ann@example.com", "+1 555", "printer is on fire", "(2s ago)",
				"(in 29m58s)", "https://porthole.example/#/requests"}},
		{"elevation", Request{ID: "r2", Kind: kindElevation, DeviceID: "d1", Host: "pc-7", User: "ann", Reason: "install driver",
			CreatedAt: created}, "[Porthole] Elevation request from ann on pc-7",
			[]string{"elevation", "install driver", "https://porthole.example/#/requests"}},
		{"access", Request{ID: "r3", Kind: kindAccess, Entitlement: "break_glass", Group: "Servers", User: "bob", Duration: "1h0m0s",
			Reason: "patching", CreatedAt: created}, "[Porthole] Access request: bob wants break_glass on Servers",
			[]string{"access (break_glass)", "Servers", "1h0m0s", "patching", "https://porthole.example/#/access/r3"}},
		{"emergency", Request{ID: "r4", Kind: kindAccess, Entitlement: "break_glass", Group: "Servers", User: "bob", Emergency: true,
			Reason: "outage\r\nBcc: x", CreatedAt: created}, "[Porthole] ⚡ Emergency access request: bob wants break_glass on Servers",
			[]string{"⚡ EMERGENCY", "outage  Bcc: x", "/#/access/r4"}},
		{"escalated", Request{ID: "r5", Kind: kindAccess, Entitlement: "remote_support", Group: "Lab", User: "tess", Emergency: true,
			Escalated: true, Reason: "vendor on site", CreatedAt: created}, "[Porthole] ⚡ Escalated to emergency: tess wants remote_support on Lab",
			[]string{"escalated an open access request", "⚡ EMERGENCY", "vendor on site", "Escalated:", "/#/access/r5"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			subj, body := Compose(tc.r, "https://porthole.example", deadline, now)
			if subj != tc.wantSubject {
				t.Errorf("subject %q, want %q", subj, tc.wantSubject)
			}
			for _, w := range tc.wantBody {
				if !strings.Contains(body, w) {
					t.Errorf("body lacks %q:\n%s", w, body)
				}
			}
		})
	}
}

func TestRequestOf(t *testing.T) {
	at := time.Date(2026, 11, 23, 16, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		rec  store.AuditRecord
		want Request
		ok   bool
	}{
		{"support", store.AuditRecord{Action: "request.created", Actor: "device:d1", Target: "r1", Time: at,
			Details: `{"device_id":"d1","email":"ann@example.com","hostname":"pc-7","kind":"support","name":"Ann","phone":"1","reason":"vpn"}`},
			Request{ID: "r1", Kind: kindSupport, DeviceID: "d1", Host: "pc-7", ContactName: "Ann", ContactEmail: "ann@example.com",
				ContactPhone: "1", Reason: "vpn", CreatedAt: at}, true},
		{"elevation", store.AuditRecord{Action: "request.created", Actor: "device:d1", Target: "r2", Time: at,
			Details: `{"device_id":"d1","hostname":"pc-7","kind":"elevation","reason":"driver","user":"ann"}`},
			Request{ID: "r2", Kind: kindElevation, DeviceID: "d1", Host: "pc-7", User: "ann", Reason: "driver", CreatedAt: at}, true},
		{"emergency access", store.AuditRecord{Action: "access.requested", Actor: "user:bob", Target: "r3", Time: at,
			Details: `{"duration":"1h0m0s","emergency":true,"entitlement":"break_glass","group_id":"g1","justification":"outage"}`},
			Request{ID: "r3", Kind: kindAccess, Entitlement: "break_glass", GroupID: "g1", Group: "g1", Duration: "1h0m0s", Emergency: true,
				User: "bob", Reason: "outage", CreatedAt: at}, true},
		{"escalated access", store.AuditRecord{Action: "access.escalated", Actor: "user:tess", Target: "r5", Time: at,
			Details: `{"comment":"","duration":"30m0s","emergency":true,"entitlement":"remote_support","group_id":"g1",` +
				`"justification":"vendor on site","requester":"tess","state":"pending"}`},
			Request{ID: "r5", Kind: kindAccess, Entitlement: "remote_support", GroupID: "g1", Group: "g1", Duration: "30m0s", Emergency: true,
				Escalated: true, User: "tess", Reason: "vendor on site", CreatedAt: at}, true},
		{"refused request", store.AuditRecord{Action: "request.refused", Target: "", Details: `{}`}, Request{}, false},
		{"other", store.AuditRecord{Action: "session.started", Target: "s1", Details: `{}`}, Request{}, false},
		{"bad details", store.AuditRecord{Action: "request.created", Target: "r4", Details: `{`}, Request{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := requestOf(tc.rec)
			if ok != tc.ok {
				t.Fatalf("ok = %v", ok)
			}
			if diff := cmp.Diff(tc.want, got); ok && diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}
