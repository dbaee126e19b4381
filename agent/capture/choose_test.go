package capture

import (
	"errors"
	"fmt"
	"image"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"porthole/internal/wire"
)

// fakeMethod opens fake grabbers, or fails with err, and counts the tries.
type fakeMethod struct {
	err   error
	tries int
}

func (f *fakeMethod) method(name string) method {
	return method{name: name, open: func(image.Rectangle, Options) (grabber, error) {
		f.tries++
		if f.err != nil {
			return nil, f.err
		}
		return newFakeGrabber(2, 2), nil
	}}
}

func TestChooserPrefersTheFirstThatWorks(t *testing.T) {
	dxgi, gdi := &fakeMethod{}, &fakeMethod{}
	c := newChooser(nil, dxgi.method(MethodDXGI), gdi.method(MethodGDI))
	g, name, err := c.open(image.Rect(0, 0, 2, 2), Options{})
	if err != nil || name != MethodDXGI {
		t.Fatalf("open = %q, %v; want dxgi", name, err)
	}
	g.close()
	if gdi.tries != 0 {
		t.Fatal("GDI tried although DXGI worked")
	}
}

// DXGI that cannot work here (Wine: E_NOTIMPL) is tried once; one that
// fails for now (the secure desktop shows) is tried again next time.
func TestChooserFallsBackAndRemembers(t *testing.T) {
	rect := image.Rect(0, 0, 2, 2)
	for _, tc := range []struct {
		name      string
		err       error
		wantTries int
	}{
		{"unsupported", fmt.Errorf("DuplicateOutput: E_NOTIMPL: %w", errors.ErrUnsupported), 1},
		{"transient", errors.New("DuplicateOutput: E_ACCESSDENIED"), 4}, // the probe and each open
	} {
		t.Run(tc.name, func(t *testing.T) {
			dxgi, gdi := &fakeMethod{err: tc.err}, &fakeMethod{}
			c := newChooser(nil, dxgi.method(MethodDXGI), gdi.method(MethodGDI))
			if got := c.probe(rect); got != MethodGDI {
				t.Fatalf("probe = %q, want gdi", got)
			}
			for range 3 {
				g, name, err := c.open(rect, Options{})
				if err != nil || name != MethodGDI {
					t.Fatalf("open = %q, %v", name, err)
				}
				g.close()
			}
			if dxgi.tries != tc.wantTries {
				t.Fatalf("DXGI tried %d times, want %d", dxgi.tries, tc.wantTries)
			}
		})
	}
}

func TestChooserNothingWorks(t *testing.T) {
	bad := &fakeMethod{err: fmt.Errorf("no: %w", errors.ErrUnsupported)}
	worse := &fakeMethod{err: errors.New("GetDC failed")}
	c := newChooser(nil, bad.method(MethodDXGI), worse.method(MethodGDI))
	_, _, err := c.open(image.Rect(0, 0, 2, 2), Options{})
	if err == nil || !errors.Is(err, errors.ErrUnsupported) || !errors.Is(err, worse.err) {
		t.Fatalf("open = %v, want both methods' errors", err)
	}
	if got := c.probe(image.Rect(0, 0, 2, 2)); got != "" {
		t.Fatalf("probe = %q, want none", got)
	}
	// Once every method is ruled out, the error says so.
	only := newChooser(nil, bad.method(MethodDXGI))
	only.open(image.Rect(0, 0, 2, 2), Options{})
	if _, _, err := only.open(image.Rect(0, 0, 2, 2), Options{}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("open with every method ruled out = %v", err)
	}
}

func TestSortDisplays(t *testing.T) {
	ds := []wire.Display{
		{X: 1920, Y: 0, Width: 1280, Height: 1024},
		{X: -1280, Y: 200, Width: 1280, Height: 720},
		{X: 0, Y: 0, Width: 1920, Height: 1080, Primary: true},
		{X: -1280, Y: -520, Width: 1280, Height: 720},
	}
	sortDisplays(ds)
	want := []wire.Display{
		{Index: 0, X: 0, Y: 0, Width: 1920, Height: 1080, Primary: true},
		{Index: 1, X: -1280, Y: -520, Width: 1280, Height: 720},
		{Index: 2, X: -1280, Y: 200, Width: 1280, Height: 720},
		{Index: 3, X: 1920, Y: 0, Width: 1280, Height: 1024},
	}
	if diff := cmp.Diff(want, ds); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	inv := wire.Inventory{Hostname: "h", Displays: slices.Clone(ds)}
	if err := inv.Validate(); err != nil {
		t.Fatalf("sorted displays fail the inventory's checks: %v", err)
	}
}
