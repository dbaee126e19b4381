package consent_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"porthole/agent/consent"
	"porthole/agent/consent/consenttest"
	"porthole/internal/xvfb"
)

// TestZenityFormAndInfo drives the support-request form and the outcome
// message on a real Xvfb display.
func TestZenityFormAndInfo(t *testing.T) {
	x := xvfb.StartT(t, xvfb.Options{Width: 1024, Height: 768})
	z := newZenity(t, x.Display)
	fields := []string{"Your name", "Email", "Phone", "Reason"}
	type answer struct {
		vals []string
		err  error
	}
	form := func() <-chan answer {
		ch := make(chan answer, 1)
		go func() {
			v, err := z.Form(context.Background(), "Ask IT support", fields, 20*time.Second)
			ch <- answer{v, err}
		}()
		return ch
	}

	ch := form()
	want := []string{"Ann Lee", "ann@example.com", "", "VPN fails"}
	consenttest.FillForm(t, x.Display, want, true)
	if got := <-ch; got.err != nil || !slices.Equal(got.vals, want) {
		t.Fatalf("Form = %q, %v; want %q", got.vals, got.err, want)
	}

	ch = form()
	consenttest.FillForm(t, x.Display, []string{"Ann"}, false)
	if got := <-ch; !errors.Is(got.err, consent.ErrCancelled) {
		t.Fatalf("cancelled Form = %q, %v; want ErrCancelled", got.vals, got.err)
	}

	done := make(chan error, 1)
	go func() { done <- z.Info(context.Background(), "Your support request was denied.", 20*time.Second) }()
	consenttest.Dismiss(t, x.Display, consent.OutcomeTitle)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
