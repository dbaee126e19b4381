package e2e

import (
	"io"
	"mime"
	"mime/quotedprintable"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"porthole/broker/notify/smtptest"
	"porthole/broker/settings"
	"porthole/internal/browsertest"
)

// emailTo points request emails at to through the SMTP server srv (global
// settings, set as the admin).
func emailTo(t *testing.T, admin *client, srv *smtptest.Server, to string) {
	t.Helper()
	for _, kv := range [][2]string{{settings.NotifyEmailTo, to}, {settings.NotifySMTPHost, srv.Host}, {settings.NotifySMTPPort, strconv.Itoa(srv.Port)}} {
		if st, body := admin.do("PUT", "/api/settings/"+kv[0], map[string]string{"scope": settings.Global, "value": kv[1]}, nil); st != 200 {
			t.Fatalf("set %s: %d %s", kv[0], st, body)
		}
	}
}

// TestRequestEmail: an admin points request emails at a real SMTP server
// (aiosmtpd) through the settings API; an end user asks for support with
// the real agent, and the email arrives with the host, the reason and the
// portal link, audited as notify.sent.
func TestRequestEmail(t *testing.T) {
	mail := smtptest.Start(t)
	e := startBroker(t, nil)
	admin := e.login(t, "admin", e.Password)

	put := func(key, value string) (int, string) {
		return admin.do("PUT", "/api/settings/"+key, map[string]string{"scope": settings.Global, "value": value}, nil)
	}
	for key, bad := range map[string]string{settings.NotifySMTPPort: "70000", settings.NotifyEmailTo: "ops at example"} {
		if st, body := put(key, bad); st != 400 || !strings.Contains(body, "invalid setting value") {
			t.Fatalf("%s=%q: %d %s, want 400 with the reason", key, bad, st, body)
		}
	}
	emailTo(t, admin, mail, "ops@example.com, helpdesk@example.com")
	if got := auditActions(t, admin, settings.NotifySMTPPort); !strings.Contains(got, "setting") || !strings.Contains(got, strconv.Itoa(mail.Port)) {
		t.Fatalf("port change not audited old → new:\n%s", got)
	}

	// The sender is set on the Settings page, like any setting; the
	// broker's refusal of a bad address is shown beside it.
	ctx := browsertest.New(t)
	portalLogin(t, ctx, e)
	browsertest.Step(ctx, t, 10*time.Second, chromedp.Navigate(e.URL+"/#/settings"),
		chromedp.WaitVisible(css(`tr[data-setting="notify.smtp_from"]`)))
	const from, save, shown = "setting-notify.smtp_from", `button[data-save="notify.smtp_from"]`, `[data-error="notify.smtp_from"]`
	setAndClick(t, ctx, from, "not an address", save)
	waitFor(t, "bad sender refused on the page", 10*time.Second, func() bool {
		return strings.Contains(evalString(t, ctx, `document.querySelector('`+shown+`').textContent`), "email address")
	})
	setAndClick(t, ctx, from, "porthole@example.com", save)
	waitFor(t, "sender saved", 10*time.Second, func() bool {
		var vs []settings.Value
		admin.do("GET", "/api/settings", nil, &vs)
		for _, v := range vs {
			if v.Key == settings.NotifySMTPFrom {
				return v.Value == "porthole@example.com" && v.Source == settings.Global
			}
		}
		return false
	})

	ep := startEndpoint(t, e, admin)
	requestSupport(t, ep, append(contact, "--reason", "Printer prints only blank pages")...)

	msg := mail.Wait(t, 1, 30*time.Second)[0]
	var reqs []struct{ ID, Hostname, Reason string }
	if st, body := admin.do("GET", "/api/requests", nil, &reqs); st != 200 || len(reqs) != 1 {
		t.Fatalf("requests: %d %s", st, body)
	}
	r := reqs[0]
	subj, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if subj != "[Porthole] Support request from "+r.Hostname {
		t.Errorf("subject %q", subj)
	}
	if to, fr := msg.Header.Get("To"), msg.Header.Get("From"); to != "<ops@example.com>, <helpdesk@example.com>" || fr != "<porthole@example.com>" {
		t.Errorf("To %q From %q", to, fr)
	}
	b, _ := io.ReadAll(quotedprintable.NewReader(msg.Body))
	body := string(b)
	for _, want := range []string{r.Hostname, "Printer prints only blank pages", "Ann Example", "ann@example.com", "+1 555 0100",
		e.URL + "/#/requests", "Expires:"} {
		if !strings.Contains(body, want) {
			t.Errorf("email lacks %q:\n%s", want, body)
		}
	}
	waitFor(t, "notify.sent audited", 10*time.Second, func() bool {
		return strings.Contains(auditActions(t, admin, r.ID), "notify.sent")
	})
	// Recipients and subject are audited, not the body.
	if got := auditActions(t, admin, r.ID); !strings.Contains(got, "notify.sent map[attempts:1 kind:support recipients:2 subject:[Porthole] Support request from") {
		t.Errorf("audit of the request:\n%s", got)
	}
}
