package wine

import (
	"bufio"
	"encoding/json"
	"image"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Edit is a Windows window with an edit control (testdata/winedit) running
// on an X display under Wine: the place to check that typed text arrived,
// since Wine delivers SendInput only to Wine windows. The edit starts
// without the keyboard focus; a click on it gives it the focus.
type Edit struct {
	// Title is the window's title (xdotool finds it by it), Rect where it is.
	Title string
	Rect  image.Rectangle

	mu      sync.Mutex
	text    string        // guarded by mu
	changed chan struct{} // closed and replaced on each change; guarded by mu
}

// StartEditT builds winedit, shows it at r on display in prefix p and
// waits until it is up. The test's cleanup ends it.
func StartEditT(t testing.TB, p *Prefix, display, title string, r image.Rectangle) *Edit {
	t.Helper()
	exe := BuildGoT(t, BuildOptions{Pkg: "porthole/internal/wine/testdata/winedit"})
	pr := p.StartT(t, display, exe, title,
		strconv.Itoa(r.Min.X), strconv.Itoa(r.Min.Y), strconv.Itoa(r.Dx()), strconv.Itoa(r.Dy()))
	e := &Edit{Title: title, Rect: r, changed: make(chan struct{})}
	ready := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr.Out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var line struct {
				Ready bool
				Text  *string
			}
			if json.Unmarshal(sc.Bytes(), &line) != nil {
				continue
			}
			if line.Ready {
				close(ready)
			}
			if line.Text != nil {
				e.mu.Lock()
				e.text = *line.Text
				close(e.changed)
				e.changed = make(chan struct{})
				e.mu.Unlock()
			}
		}
	}()
	// Registered after StartT's: runs first, so the program is ended (and
	// its stdout closed) before this waits for the reader.
	t.Cleanup(func() {
		pr.Cmd.Process.Kill()
		<-done
	})
	select {
	case <-ready:
	case <-done:
		t.Fatalf("winedit exited before it was ready: %s", pr.Stderr())
	case <-time.After(time.Minute):
		t.Fatalf("winedit not ready after a minute: %s", pr.Stderr())
	}
	return e
}

// Text is the edit control's text now.
func (e *Edit) Text() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.text
}

// WaitText waits up to d for the text to be want, and returns the text it
// has then and whether it matched.
func (e *Edit) WaitText(want string, d time.Duration) (string, bool) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		e.mu.Lock()
		text, changed := e.text, e.changed
		e.mu.Unlock()
		if text == want {
			return text, true
		}
		select {
		case <-changed:
		case <-deadline.C:
			return text, false
		}
	}
}
